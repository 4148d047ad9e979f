"""The commented starter manifest `batchavatars init` writes."""

from __future__ import annotations

from .schema import SCHEMA_URL

_STARTER = """\
# yaml-language-server: $schema={schema}
#
# A batchavatars manifest: the HeyGen avatars and looks you want, in one file.
#   batchavatars validate {{this file}}   check it (nothing is sent)
#   batchavatars plan {{this file}}       what a run would do
#   batchavatars run {{this file}}        make them (needs HEYGEN_API_KEY); safe to re-run
#
# Keys name items here and in the results ledger: 1-64 characters of a-z 0-9 _ . -
# Files are an https:// URL HeyGen can fetch, a local path (relative to this file; uploaded
# first), {{url: ...}}, {{path: ...}} or {{asset_id: ...}}. Photos: .jpg/.jpeg/.png, at least
# 512x512, one clear frontal face. Training footage: .mp4/.webm (.mov is not accepted).
version: 1

avatars:
  # A photo avatar: one photo becomes a new character.
  - key: alex
    type: photo
    name: Alex Kim
    file: https://cdn.example.com/photos/alex.jpg      # replace with your photo (or ./photos/alex.jpg)

  # An avatar generated from a description (prompt: at most 1000 characters).
  - key: guide
    type: prompt
    name: Museum Guide
    prompt: A friendly museum guide in her forties, tweed blazer, warm gallery lighting
    # reference_images: [https://cdn.example.com/refs/guide.jpg]   # optional, at most 3

  # A digital twin trained on footage (2+ minutes, 720p+). The person must record consent:
  # the run prints the consent link and waits for it.
  # - key: jordan
  #   type: digital_twin
  #   name: Jordan Lee
  #   file: https://cdn.example.com/footage/jordan.mp4
  #   consent: {{reroute_url: https://example.com/thanks}}  # optional: where they land afterwards

  # A second photo of an existing character: `group:` names an avatar above,
  # `avatar_group_id:` a character that already exists on HeyGen (use one, not both).
  - key: alex-studio
    type: photo
    name: Alex Kim (studio)
    file: https://cdn.example.com/photos/alex-studio.jpg
    group: alex

looks:
  # A new look, generated from a parent: `avatar:` is any avatar or look key in this file
  # (it waits until the parent has finished training); `avatar_id:` an existing HeyGen look.
  - key: alex-keynote
    avatar: alex
    name: Alex, keynote
    prompt: On a conference stage, navy suit, spotlight, audience in soft focus

look_templates:
  # One look for every selected avatar. for_each: all | [alex, guide] | {{type: photo}}
  # Placeholders: {{avatar}} (the avatar's key), {{name}} (its name), {{type}} (its type).
  - for_each: [alex, guide]
    key: "{{avatar}}-office"
    name: "{{name}}, office"
    prompt: "{{name}} in business casual, bright modern office, natural light"

# A CSV roster can add many avatars (columns key,type,name,file,prompt; a header row first;
# optional columns group, avatar_group_id). Its rows are appended to `avatars:` and look
# templates apply to them too.
# avatars_from: presenters.csv
"""


def starter_manifest(schema: str = SCHEMA_URL) -> str:
    """A commented starter manifest (loads as is; its files are placeholder URLs). `schema` is what
    the editor modeline points at: the published URL, or a path to a local copy of the schema."""
    return _STARTER.format(schema=schema)
