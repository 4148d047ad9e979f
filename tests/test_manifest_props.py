"""Properties of load_manifest: generated valid manifests load and keep their keys, names and
parents; mutated manifests (field deletions, insertions, type changes, renames, random bytes,
truncation) either load or raise ManifestError whose problems all have a location. Nothing else
may escape."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from batchavatars.errors import ManifestError
from batchavatars.manifest import load_manifest

# MANIFEST_FUZZ=5000 for a long fuzzing session; the default keeps the suite fast.
EXAMPLES = int(os.environ.get("MANIFEST_FUZZ", "120"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)  # no "." : template keys add ".t"
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
WORDS = TEXT.filter(lambda s: not s.isspace())  # HeyGen refuses a name or prompt of spaces only
URLS = st.builds(
    "https://cdn.example.com/{}/{}.{}".format, st.integers(0, 999), KEYS, st.sampled_from(["jpg", "png", "jpeg"])
)
VIDEOS = st.builds("https://cdn.example.com/v/{}.{}".format, KEYS, st.sampled_from(["mp4", "webm"]))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("props")


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(KEYS, min_size=1, max_size=12, unique=True))
    n_avatars = draw(st.integers(1, len(keys)))
    avatars: list[dict[str, Any]] = []
    founder: dict[str, str | None] = {}  # the type of the avatar that starts each one's character
    for key in keys[:n_avatars]:
        kind = draw(st.sampled_from(["photo", "digital_twin", "prompt"]))
        item: dict[str, Any] = {"key": key, "type": kind, "name": draw(WORDS)}
        if kind == "photo":
            item["file"] = draw(
                st.one_of(URLS, st.builds(lambda u: {"url": u}, URLS), st.builds(lambda a: {"asset_id": a}, TEXT))
            )
        elif kind == "digital_twin":
            item["file"] = draw(st.one_of(VIDEOS, st.builds(lambda u: {"url": u}, VIDEOS)))
            if draw(st.booleans()):
                item["consent"] = {"reroute_url": draw(URLS)}
        else:
            prompts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300)
            item["prompt"] = draw(prompts.filter(lambda s: not s.isspace()))
            if draw(st.booleans()):
                item["reference_images"] = draw(st.lists(URLS, max_size=3))
        # a digital twin may only join a digital-twin character (or one only HeyGen knows: None)
        joinable = [a["key"] for a in avatars if kind != "digital_twin" or founder[a["key"]] in ("digital_twin", None)]
        if joinable and draw(st.booleans()):
            if draw(st.booleans()):
                item["group"] = draw(st.sampled_from(joinable))
            else:
                item["avatar_group_id"] = draw(TEXT)
        founder[key] = founder[item["group"]] if "group" in item else None if "avatar_group_id" in item else kind
        avatars.append(item)
    looks: list[dict[str, Any]] = []
    for key in keys[n_avatars:]:
        look: dict[str, Any] = {"key": key, "name": draw(WORDS), "prompt": draw(WORDS)}
        earlier = [a["key"] for a in avatars] + [x["key"] for x in looks]
        if draw(st.booleans()):
            look["avatar"] = draw(st.sampled_from(earlier))
        else:
            look["avatar_id"] = draw(TEXT)
        looks.append(look)
    doc: dict[str, Any] = {"version": 1, "avatars": avatars, "looks": looks}
    if draw(st.booleans()):
        doc["look_templates"] = [
            {
                "for_each": draw(st.sampled_from(["all", {"type": "photo"}, [avatars[0]["key"]]])),
                "key": "{avatar}.t",
                "name": "{name} ({type})",
                "prompt": "{name}, elsewhere",
            }
        ]
    return doc


def expected_keys(doc: dict[str, Any]) -> list[str]:
    keys = [a["key"] for a in doc["avatars"]] + [x["key"] for x in doc["looks"]]
    for tpl in doc.get("look_templates", []):
        chosen = tpl["for_each"]
        for a in doc["avatars"]:
            if (
                chosen == "all"
                or (isinstance(chosen, dict) and a["type"] == chosen["type"])
                or (isinstance(chosen, list) and a["key"] in chosen)
            ):
                keys.append(a["key"] + ".t")
    return keys


def dump(doc: Any, unicode: bool = True) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=unicode, width=80)


def load_or_problems(path: Path) -> Any:
    """The manifest, or the ManifestError; anything else fails the test."""
    try:
        return load_manifest(path)
    except ManifestError as err:
        for problem in err.problems:
            assert problem.location is not None, f"problem without a location: {problem}"
            assert "internal error" not in problem.message, problem.message
            assert problem.location.line >= 1 and problem.location.col >= 1
        return err


@SETTINGS
@given(doc=manifests(), unicode=st.booleans())
@pytest.mark.slow
def test_valid_manifests_load_and_keep_their_keys(workdir: Path, doc: dict[str, Any], unicode: bool) -> None:
    text = dump(doc, unicode)
    path = workdir / "valid.yaml"
    path.write_text(text, encoding="utf-8")
    m = load_manifest(path)
    assert [s.key for s in m.items] == expected_keys(doc)
    # What the text means, by PyYAML's own safe loader (the emitter folds a few odd characters,
    # e.g. a NEL becomes a space, so the oracle is the parse, not the dict that was dumped).
    meant = yaml.safe_load(text)
    by_key = {s.key: s for s in m.items}
    for a in meant["avatars"]:
        spec = by_key[a["key"]]
        assert (spec.kind, spec.type, spec.name) == ("avatar", a["type"], a["name"])
        assert spec.parent == a.get("group") and spec.avatar_group_id == a.get("avatar_group_id")
        assert spec.prompt == a.get("prompt")
        if "file" in a:
            file = a["file"]
            assert spec.file is not None and spec.file.value == (
                file if isinstance(file, str) else next(iter(file.values()))
            )
        assert [r.value for r in spec.reference_images] == a.get("reference_images", [])
        assert spec.consent_reroute_url == a.get("consent", {}).get("reroute_url")
    for x in meant["looks"]:
        spec = by_key[x["key"]]
        assert (spec.kind, spec.type, spec.name, spec.prompt) == ("look", "prompt", x["name"], x["prompt"])
        assert spec.parent == x.get("avatar") and spec.avatar_id == x.get("avatar_id")


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 10**12)
    | st.floats(allow_nan=False)
    | TEXT
    | st.sampled_from(["photo", "prompt", "digital_twin", "all", "{avatar}", "{nope}", "ava", "", "1"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "key",
                    "type",
                    "name",
                    "file",
                    "prompt",
                    "url",
                    "path",
                    "avatar",
                    "group",
                    "for_each",
                    "promt",
                    "version",
                    "x",
                ]
            )
            | TEXT,
            inner,
            max_size=3,
        )
    ),
    max_leaves=6,
)


def _containers(node: Any, out: list[Any]) -> list[Any]:
    if isinstance(node, (dict, list)):
        out.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            _containers(child, out)
    return out


@SETTINGS
@given(doc=manifests(), data=st.data())
@pytest.mark.slow
def test_mutated_manifests_load_or_say_where(workdir: Path, doc: dict[str, Any], data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(1, 4))):
        target = data.draw(st.sampled_from(_containers(doc, [])))
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "rename"]))
        if isinstance(target, dict):
            if op == "insert" or not target:
                target[
                    data.draw(st.sampled_from(["key", "type", "file", "prompt", "group", "avatar", "bogus"]) | TEXT)
                ] = data.draw(JSONISH)
                continue
            key = data.draw(st.sampled_from(list(target)))
            if op == "delete":
                del target[key]
            elif op == "replace":
                target[key] = data.draw(JSONISH)
            else:
                target[data.draw(TEXT)] = target.pop(key)
        else:
            if op == "insert" or not target:
                target.insert(data.draw(st.integers(0, len(target))), data.draw(JSONISH))
                continue
            index = data.draw(st.integers(0, len(target) - 1))
            if op == "delete":
                del target[index]
            else:
                target[index] = data.draw(JSONISH)
    path = workdir / "mutated.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    load_or_problems(path)


@SETTINGS
@given(doc=manifests(), data=st.data())
def test_damaged_bytes_load_or_say_where(workdir: Path, doc: dict[str, Any], data: st.DataObject) -> None:
    raw = bytearray(dump(doc).encode("utf-8"))
    how = data.draw(st.sampled_from(["truncate", "flip", "insert", "random"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 5))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    elif how == "insert":
        at = data.draw(st.integers(0, len(raw)))
        raw[at:at] = data.draw(
            st.sampled_from(
                [
                    b"&a ",
                    b"*a",
                    b"!!python/name:os.system ",
                    b"\t",
                    b"{",
                    b"]",
                    b"\n---\n",
                    b"<<: *a\n",
                    b"\xff\xfe",
                    b"\x00",
                    b": ",
                    b"\n- ",
                ]
            )
            | st.binary(max_size=8)
        )
    else:
        raw = bytearray(data.draw(st.binary(max_size=200)))
    path = workdir / "damaged.yaml"
    path.write_bytes(bytes(raw))
    load_or_problems(path)


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            KEYS, st.sampled_from(["photo", "prompt", "digital_twin", "bad"]), TEXT, st.one_of(st.just(""), URLS, TEXT)
        ),
        max_size=8,
    ),
    cut=st.integers(0, 10_000),
    noise=st.binary(max_size=6),
)
def test_rosters_load_or_say_where(
    workdir: Path, rows: list[tuple[str, str, str, str]], cut: int, noise: bytes
) -> None:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["key", "type", "name", "file"])
    writer.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    cut = min(cut, len(data))
    (workdir / "people.csv").write_bytes(data[:cut] + noise + data[cut:])
    path = workdir / "roster.yaml"
    path.write_text(
        "version: 1\navatars_from: people.csv\nlook_templates:\n  - for_each: all\n"
        '    key: "{avatar}-t"\n    name: "{name}"\n    prompt: p\n',
        encoding="utf-8",
    )
    result = load_or_problems(path)
    if not noise and cut == len(data) and not isinstance(result, ManifestError):
        assume(rows)
        assert [s.key for s in result.items if s.kind == "avatar"] == [r[0] for r in rows]
