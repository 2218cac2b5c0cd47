"""The shape of a commit file, checked with pydantic when it is read: valid JSON with wrong types ("deleted": 5)
is a damaged commit, named in one line, not a traceback somewhere later."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class ModelEntry(_Strict):
    name: StrictStr
    dim: StrictInt = Field(gt=0)


class SegmentEntry(_Strict):
    name: StrictStr = Field(pattern=r"^seg-[A-Za-z0-9-]+$")  # a folder inside the index, never a path out of it
    articles: StrictInt = Field(ge=0)
    passages: StrictInt = Field(ge=0)
    deleted: list[StrictStr] = []
    meta_checksum: StrictStr | None = None  # absent in commits from before checksums


class PassagesEntry(_Strict):
    max_tokens: StrictInt = Field(gt=0)
    overlap: StrictInt = Field(ge=0)


class CommitFile(_Strict):
    format_version: StrictInt
    generation: StrictInt = Field(ge=1)
    model: ModelEntry
    passages: PassagesEntry
    model_dir: StrictStr = Field("model", pattern=r"^model[A-Za-z0-9-]*$")
    segments: list[SegmentEntry]
    tombstones: dict[StrictStr, StrictStr] = {}
