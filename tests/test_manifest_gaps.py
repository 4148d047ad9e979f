"""What HeyGen would reject, refused by `validate` with file:line:col and a fix: blank names and
prompts, a digital twin joining a photo or prompt character, media of a kind the field does not
take (by URL extension, by local content), photos under 512x512; and local files by content."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchavatars.cli import main
from batchavatars.manifest import load_manifest, media

from .manifests import manifest, photo, photo_block, prompt_block, twin
from .media import jpeg_bytes, png_bytes
from .test_manifest import assert_problem, problems_of, write

# -- blank names and prompts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,substring,line,col",
    [
        (
            'version: 1\navatars:\n  - {key: a, type: photo, name: "   ", file: "https://x.example.com/a.jpg"}\n',
            "[a] `name` is blank (only spaces); HeyGen needs text here. Fix: write the display name",
            3,
            33,
        ),
        (
            'version: 1\navatars:\n  - key: a\n    type: prompt\n    name: A\n    prompt: "\\t \\n"\n',
            "[a] `prompt` is blank (only spaces)",
            6,
            13,
        ),
        (
            'version: 1\nlooks:\n  - {key: l, avatar_id: x, name: "\\u3000", prompt: p}\n',
            "[l] `name` is blank",
            3,
            34,
        ),
        (
            'version: 1\nlook_templates:\n  - {for_each: all, key: "{avatar}-x", name: "{name}", prompt: "  "}\n',
            "`prompt` is blank (only spaces)",
            3,
            64,
        ),
    ],
)
def test_blank_name_or_prompt_is_refused_where_written(
    tmp_path: Path, text: str, substring: str, line: int, col: int
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    assert_problem(problems_of(path), substring, line, col)


# -- a digital twin joins only a digital-twin character ---------------------------------------------


def test_twin_joining_a_photo_character_is_refused(tmp_path: Path) -> None:
    avatars = [
        photo("ava", "Ava"),
        photo("ava-2", "Ava 2", group="ava"),
        twin("ava-twin", "Ava twin", group="ava-2"),
        "{key: nova, type: prompt, name: Nova, prompt: a captain}",
        twin("nova-twin", "Nova twin", group="nova"),
    ]
    err = problems_of(write(tmp_path, manifest(*avatars)))
    assert_problem(
        err,
        "[ava-twin] `group` joins the character of `ava` (through `ava-2`), a photo avatar; "
        "HeyGen lets a digital twin join only a digital-twin character. Fix: remove `group`",
        5,
        103,
    )
    assert_problem(err, "[nova-twin] `group` joins the character of `nova`, a prompt avatar", 7, 105)
    assert len(err.problems) == 2


def test_twin_may_join_a_twin_or_an_existing_character(tmp_path: Path) -> None:
    avatars = [
        twin("sam", "Sam"),
        photo("sam-photo", "Sam photo", group="sam"),
        twin("sam-2", "Sam 2", group="sam-photo"),
        photo("old", "Old", avatar_group_id="grp_1"),
        twin("old-twin", "Old twin", group="old"),
    ]
    m = load_manifest(write(tmp_path, manifest(*avatars)))
    assert [s.parent for s in m.items] == [None, "sam", "sam-photo", None, "old"]


# -- media kinds by URL extension ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,file,substring,col",
    [
        (
            "digital_twin",
            "https://cdn.example.com/clip.MOV?sig=1",
            "ends in .mov: HeyGen takes training footage as mp4 or webm. Fix: convert it to mp4",
            11,
        ),
        (
            "digital_twin",
            "{url: https://cdn.example.com/a.jpg}",
            "`file.url` 'https://cdn.example.com/a.jpg' ends in .jpg",
            17,
        ),
        (
            "photo",
            "https://cdn.example.com/me.gif",
            "ends in .gif: HeyGen takes a photo as PNG or JPEG. Fix: convert it to PNG or JPEG",
            11,
        ),
        ("photo", "https://cdn.example.com/me.heic#x", "ends in .heic", 11),
    ],
)
def test_url_with_an_extension_heygen_refuses(tmp_path: Path, kind: str, file: str, substring: str, col: int) -> None:
    err = problems_of(write(tmp_path, manifest(photo_block(type=kind, file=file))))
    assert_problem(err, substring, 6, col)


def test_url_extension_checks_reference_images_and_leave_unknown_endings_alone(tmp_path: Path) -> None:
    images = "[https://cdn.example.com/r.webp, https://cdn.example.com/img?id=7, https://x.example.com/p.php]"
    text = manifest(prompt_block(reference_images=images), photo("b", "B", file='"https://cdn.example.com/photos/b"'))
    err = problems_of(write(tmp_path, text))
    assert_problem(err, "`reference_images[0]` 'https://cdn.example.com/r.webp' ends in .webp", 7, 24)
    assert len(err.problems) == 1


# -- local photos by content -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,content,substring",
    [
        ("small.png", png_bytes(256, 700), "small.png: is 256x700 pixels; HeyGen needs a photo of at least 512x512"),
        ("small.jpg", jpeg_bytes(800, 400), "small.jpg: is 800x400 pixels"),
        ("exif.jpeg", jpeg_bytes(511, 600, exif=70_000), "exif.jpeg: is 511x600 pixels"),
        (
            "gif.png",
            b"GIF89a" + b"\x00" * 100,
            "gif.png: is not a PNG or JPEG image, whatever its name says (its content is a GIF image)",
        ),
        ("page.jpg", b"<!doctype html><html>Not found</html>", "its content is an HTML, XML or SVG text file"),
        ("cut.png", b"\x89PNG\r\n\x1a\n\x00\x00", "cut.png: is a PNG image with a broken header"),
    ],
)
def test_local_photo_must_be_a_real_image_of_512_or_more(
    tmp_path: Path, name: str, content: bytes, substring: str
) -> None:
    (tmp_path / name).write_bytes(content)
    err = problems_of(write(tmp_path, f"version: 1\navatars:\n  - {{key: a, type: photo, name: A, file: {name}}}\n"))
    assert_problem(err, substring, 3, 42)


def test_big_enough_photos_and_small_reference_images_load(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png_bytes(512, 900))
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes(1024, 512, exif=70_000))
    (tmp_path / "ref.png").write_bytes(png_bytes(64, 64))  # HeyGen states no minimum for references
    (tmp_path / "ref.txt.png").write_bytes(b"just text")
    text = """
    version: 1
    avatars:
      - {key: a, type: photo, name: A, file: a.png}
      - {key: b, type: photo, name: B, file: b.jpg}
      - {key: c, type: prompt, name: C, prompt: p, reference_images: [ref.png]}
      - {key: d, type: prompt, name: D, prompt: p, reference_images: [ref.txt.png]}
    """
    err = problems_of(write(tmp_path, text))
    assert [str(p.location).split(":", 1)[1] for p in err.problems] == ["6:67"]
    assert "is not a PNG or JPEG image" in err.problems[0].message
    path = write(
        tmp_path,
        text.replace("      - {key: d, type: prompt, name: D, prompt: p, reference_images: [ref.txt.png]}\n", ""),
    )
    assert [s.key for s in load_manifest(path).items] == ["a", "b", "c"]


# -- local files by content --------------------------------------------------------------------------------


def test_local_files_carry_their_sha256_and_the_hash_follows_the_content(tmp_path: Path) -> None:
    (tmp_path / "me.png").write_bytes(png_bytes(shade=1))
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * (3 * media.BLOCK + 5))  # hashed over several blocks
    path = write(
        tmp_path,
        """
        version: 1
        avatars:
          - {key: a, type: photo, name: A, file: me.png}
          - {key: t, type: digital_twin, name: T, file: {path: clip.mp4}}
          - {key: n, type: prompt, name: N, prompt: p, reference_images: [me.png, "https://x.example.com/r.png"]}
        """,
    )
    first = load_manifest(path).items
    assert first[0].file is not None and first[0].file.sha256 == hashlib.sha256(png_bytes(shade=1)).hexdigest()
    assert first[0].file.written == "me.png"  # kept for display
    assert (
        first[1].file is not None
        and first[1].file.sha256 == hashlib.sha256(b"\x00" * (3 * media.BLOCK + 5)).hexdigest()
    )
    assert first[2].reference_images[0].sha256 == first[0].file.sha256
    assert first[2].reference_images[1].sha256 is None  # a URL is not fetched

    (tmp_path / "me.png").write_bytes(png_bytes(shade=2))  # a new photo at the same path
    second = load_manifest(path).items
    assert second[0].spec_hash != first[0].spec_hash and second[2].spec_hash != first[2].spec_hash
    assert second[1].spec_hash == first[1].spec_hash


def test_each_distinct_local_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "same.png").write_bytes(png_bytes())
    (tmp_path / "other.png").write_bytes(png_bytes(shade=3))
    reads: list[str] = []
    real = media.read_content

    def counting(path: str) -> media.Content:
        reads.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr("batchavatars.manifest.files.read_content", counting)
    avatars = "\n".join(
        f"  - {{key: a{i}, type: photo, name: A, file: {'same' if i % 2 else 'other'}.png}}" for i in range(40)
    )
    items = load_manifest(write(tmp_path, "version: 1\navatars:\n" + avatars + "\n")).items
    assert len(items) == 40 and sorted(reads) == ["other.png", "same.png"]


# -- init -----------------------------------------------------------------------------------------------


def test_init_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "team" / "q3" / "avatars.yaml"
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert "and its folder" in result.output
    assert CliRunner().invoke(main, ["validate", str(target)]).exit_code == 0


@pytest.mark.parametrize("where", ["under-a-file", "a-folder"])
def test_init_where_it_cannot_write_says_so(tmp_path: Path, where: str) -> None:
    (tmp_path / "plain").write_text("x")
    (tmp_path / "dir").mkdir()
    target = tmp_path / "plain" / "x.yaml" if where == "under-a-file" else tmp_path / "dir"
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 2 and not isinstance(result.exception, (OSError, AttributeError)), result.output
    assert ("Fix: choose a path" if where == "under-a-file" else "is a directory") in result.output
