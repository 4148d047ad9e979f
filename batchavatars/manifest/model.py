"""The manifest's shape as pydantic models: they validate every manifest and generate the JSON Schema
editors use, so the two cannot drift apart.

Rules that relate several fields (exclusive fields, references, cycles, file checks) partly live in
the loader; the ones a JSON Schema can say are also stated here (`json_schema_extra`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, model_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
KEY_RULE = "1-64 characters of a-z 0-9 _ . -, starting with a letter or digit (lowercase only)"
NAME_MAX = 255
PROMPT_MAX = 1000
REFERENCE_IMAGES_MAX = 3
SUPPORTED_VERSIONS = (1,)
AVATAR_TYPES = ("digital_twin", "photo", "prompt")
PLACEHOLDERS = ("avatar", "name", "type")

Key = Annotated[str, Field(pattern=KEY_PATTERN, description=f"Item key, unique in the manifest: {KEY_RULE}.")]
NOT_BLANK = r"\S"  # HeyGen refuses a name or prompt of spaces only
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=NAME_MAX,
        pattern=NOT_BLANK,
        title="Name",
        description="Display name on HeyGen (1-255 characters, not only spaces).",
    ),
]
Prompt = Annotated[
    str,
    Field(
        min_length=1,
        max_length=PROMPT_MAX,
        pattern=NOT_BLANK,
        title="Prompt",
        description="What to generate (at most 1000 characters, HeyGen's limit).",
    ),
]
NonEmpty = Annotated[str, Field(min_length=1)]
NonBlank = Annotated[str, Field(min_length=1, pattern=NOT_BLANK)]
HttpUrl = Annotated[
    str, Field(pattern=r"^https?://[^\s/?#]+[^\s]*$", title="URL", description="A publicly reachable http(s) URL.")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class UrlFile(_Strict):
    """A file HeyGen fetches from a URL."""

    model_config = ConfigDict(title="File by URL")
    url: HttpUrl


class PathFile(_Strict):
    """A local file, uploaded as an asset first. Relative paths start at the manifest's folder."""

    model_config = ConfigDict(title="Local file")
    path: Annotated[NonEmpty, Field(title="Path", description="Local file, relative to the manifest's folder.")]


class AssetFile(_Strict):
    """A file already uploaded to HeyGen's asset store."""

    model_config = ConfigDict(title="Uploaded asset")
    asset_id: Annotated[NonEmpty, Field(title="Asset id", description="An id from POST /v3/assets.")]


def _file_form(value: Any) -> str | None:
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        for form in ("url", "path", "asset_id"):
            if form in value:
                return form
    return None


FILE_FORMS = "a URL string, a path string, {url: <url>}, {path: <path>} or {asset_id: <id>}"

FileField = Annotated[
    Annotated[
        Annotated[
            NonEmpty,
            Field(
                title="URL or path", description="http(s):// URL, else a local path relative to the manifest's folder."
            ),
        ],
        Tag("string"),
    ]
    | Annotated[UrlFile, Tag("url")]
    | Annotated[PathFile, Tag("path")]
    | Annotated[AssetFile, Tag("asset_id")],
    Discriminator(_file_form, custom_error_type="file_form", custom_error_message=f"must be {FILE_FORMS}"),
]


class Consent(_Strict):
    """Consent request for a digital twin: HeyGen returns a page where the person records consent."""

    reroute_url: HttpUrl = Field(  # type: ignore[assignment]
        default=None, title="Reroute URL", description="Where the person lands after recording consent."
    )


_NOT_BOTH_GROUP: JsonDict = {"not": {"required": ["group", "avatar_group_id"]}}


class _AvatarBase(_Strict):
    # `default=None` on a non-Optional field (here and below): None means "not given", while an explicit
    # null is still refused and the schema admits no null. Pydantic does not validate defaults; mypy
    # cannot know that, hence the ignores.
    key: Key
    name: Name
    group: Key = Field(
        default=None,
        title="Group",  # type: ignore[assignment]
        description="Key of another avatar of this manifest whose character this one joins.",
    )
    avatar_group_id: NonEmpty = Field(
        default=None,
        title="Existing character",  # type: ignore[assignment]
        description="An existing HeyGen character (avatar group) id to add this look to.",
    )

    @model_validator(mode="after")
    def _group_xor(self) -> _AvatarBase:
        if self.group is not None and self.avatar_group_id is not None:
            raise PydanticCustomError(
                "exclusive",
                "`group` and `avatar_group_id` cannot both be set",
                {
                    "field": "avatar_group_id",
                    "fix": "keep `group` (a manifest avatar) or `avatar_group_id` "
                    "(an existing HeyGen character), not both",
                },
            )
        return self


class AvatarCommon(_AvatarBase):
    """The fields every avatar type shares: checked on their own when `type` is missing or unknown,
    so those problems are reported too. Not part of the schema."""

    model_config = ConfigDict(extra="ignore")


class PhotoAvatar(_AvatarBase):
    """A photo avatar: one clear, frontal photo (JPEG/PNG, at least 512x512)."""

    model_config = ConfigDict(title="Photo avatar", json_schema_extra=_NOT_BOTH_GROUP)
    type: Literal["photo"] = Field(title="Type")
    file: FileField = Field(title="Photo", description=f"The photo (.png, .jpg, .jpeg): {FILE_FORMS}.")


class DigitalTwinAvatar(_AvatarBase):
    """A digital twin trained on footage; the person must record consent."""

    model_config = ConfigDict(title="Digital twin", json_schema_extra=_NOT_BOTH_GROUP)
    type: Literal["digital_twin"] = Field(title="Type")
    file: FileField = Field(title="Training footage", description=f"The video (.mp4, .webm): {FILE_FORMS}.")
    consent: Consent = Field(
        default=None,
        title="Consent",  # type: ignore[assignment]
        description="Options for the consent request.",
    )


class PromptAvatar(_AvatarBase):
    """An avatar generated from a text prompt, optionally guided by reference images."""

    model_config = ConfigDict(title="Prompt avatar", json_schema_extra=_NOT_BOTH_GROUP)
    type: Literal["prompt"] = Field(title="Type")
    prompt: Prompt
    reference_images: Annotated[list[FileField], Field(max_length=REFERENCE_IMAGES_MAX)] = Field(
        default=None,  # type: ignore[arg-type]  # None: absent (see _AvatarBase)
        title="Reference images",
        description=f"At most {REFERENCE_IMAGES_MAX} images (.png, .jpg, .jpeg): {FILE_FORMS}.",
    )


Avatar = Annotated[PhotoAvatar | DigitalTwinAvatar | PromptAvatar, Field(discriminator="type")]


class Look(_Strict):
    """A new look (prompt-generated) of an avatar or look in this manifest, or of an existing HeyGen look."""

    model_config = ConfigDict(
        title="Look", json_schema_extra={"oneOf": [{"required": ["avatar"]}, {"required": ["avatar_id"]}]}
    )
    key: Key
    avatar: Key = Field(
        default=None,
        title="Parent",  # type: ignore[assignment]
        description="Key of the avatar or look in this manifest this look derives from.",
    )
    avatar_id: NonEmpty = Field(
        default=None,
        title="Existing parent look",  # type: ignore[assignment]
        description="Id of an existing HeyGen look (outside the manifest) to derive from.",
    )
    name: Name
    prompt: Prompt

    @model_validator(mode="after")
    def _one_parent(self) -> Look:
        if self.avatar is not None and self.avatar_id is not None:
            raise PydanticCustomError(
                "exclusive",
                "`avatar` and `avatar_id` cannot both be set",
                {
                    "field": "avatar_id",
                    "fix": "keep `avatar` (a key in this manifest) or `avatar_id` (an existing HeyGen look), not both",
                },
            )
        if self.avatar is None and self.avatar_id is None:
            raise PydanticCustomError(
                "no_parent",
                "a look needs a parent",
                {
                    "fix": "add `avatar: <key of an avatar or look in this manifest>` or "
                    "`avatar_id: <an existing HeyGen look id>`"
                },
            )
        return self


AvatarTypeName = Literal["digital_twin", "photo", "prompt"]


def _one_or_many(value: Any) -> str | None:
    return "many" if isinstance(value, list) else "one"


class ForEachFilter(_Strict):
    """Select avatars by their fields."""

    model_config = ConfigDict(title="Avatar filter")
    type: Annotated[
        Annotated[AvatarTypeName, Tag("one")] | Annotated[list[AvatarTypeName], Tag("many")],
        Discriminator(_one_or_many),
    ] = Field(title="Type", description="Avatar type, or a list of types, to select.")


def _for_each_form(value: Any) -> str | None:
    if isinstance(value, str):
        return "all"
    if isinstance(value, list):
        return "keys"
    if isinstance(value, dict):
        return "filter"
    return None


ForEach = Annotated[
    Annotated[Literal["all"], Tag("all")] | Annotated[list[Key], Tag("keys")] | Annotated[ForEachFilter, Tag("filter")],
    Discriminator(
        _for_each_form,
        custom_error_type="for_each_form",
        custom_error_message="must be `all`, a list of avatar keys, or a filter like {type: photo}",
    ),
]

_TEMPLATE_HELP = "Placeholders: {avatar} (the avatar's key), {name} (its name), {type} (its type)."


class LookTemplate(_Strict):
    """One look for each selected avatar, with placeholders filled in."""

    model_config = ConfigDict(title="Look template")
    for_each: ForEach = Field(
        title="For each", description="`all`, a list of avatar keys, or a filter such as {type: photo}."
    )
    key: NonEmpty = Field(
        title="Key template", description=f'Key of each look, e.g. "{{avatar}}-office". {_TEMPLATE_HELP}'
    )
    name: NonBlank = Field(title="Name template", description=f"Name of each look. {_TEMPLATE_HELP}")
    prompt: NonBlank = Field(title="Prompt template", description=f"Prompt of each look. {_TEMPLATE_HELP}")


class ManifestModel(_Strict):
    """A batchavatars manifest: HeyGen avatars and looks to create."""

    model_config = ConfigDict(
        title="batchavatars manifest",
        json_schema_extra={
            # Top-level keys starting with x- are ignored: a place for YAML anchors (`x-defaults: &d`).
            "patternProperties": {"^x-": {"description": "Ignored: a place for YAML anchors to reuse."}}
        },
    )
    version: Literal[1] = Field(title="Manifest version", description="Always 1.")
    avatars: list[Avatar] = Field(
        default_factory=list,
        title="Avatars",
        description="New avatars (characters) or new looks of existing characters.",
    )
    looks: list[Look] = Field(default_factory=list, title="Looks", description="Prompt-made looks of avatars or looks.")
    look_templates: list[LookTemplate] = Field(
        default_factory=list, title="Look templates", description="Looks for many avatars at once."
    )
    avatars_from: NonEmpty = Field(
        default=None,
        title="Avatar roster (CSV)",  # type: ignore[assignment]
        description="CSV file (relative to the manifest) with a header row: key,type,name and optionally "
        "file,prompt,group,avatar_group_id. Its rows are avatars appended after `avatars`.",
    )


MANIFEST_FIELDS = tuple(ManifestModel.model_fields)
AVATAR_FIELDS = ("key", "type", "name", "file", "group", "avatar_group_id", "consent", "prompt", "reference_images")
LOOK_FIELDS = tuple(Look.model_fields)
TEMPLATE_FIELDS = tuple(LookTemplate.model_fields)
CSV_COLUMNS = ("key", "type", "name", "file", "prompt", "group", "avatar_group_id")
CSV_REQUIRED = ("key", "type", "name")

manifest_adapter: TypeAdapter[ManifestModel] = TypeAdapter(ManifestModel)
avatar_adapter: TypeAdapter[Any] = TypeAdapter(Avatar)
common_adapter: TypeAdapter[AvatarCommon] = TypeAdapter(AvatarCommon)
avatars_adapter: TypeAdapter[Any] = TypeAdapter(list[Avatar])
look_adapter: TypeAdapter[Look] = TypeAdapter(Look)
template_adapter: TypeAdapter[LookTemplate] = TypeAdapter(LookTemplate)
