"""JSON Schemas of the product's documents, generated from the pydantic models.

``chanjiao schema`` writes them into ``schemas/``; a test regenerates them and fails when the committed files
are stale, so the schemas can never drift from the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, create_model

from engine.policy.casetests import CaseFileModel
from engine.output.decisions import DecisionDocumentModel
from engine.policy.packs import PackModel, RuleModel
from engine.data.records import RECORD_MODELS
from engine.data.vocabulary import fields, record_type_info

__all__ = ["schema_documents", "schema_text", "write_schemas"]


def _dataset_model() -> type[BaseModel]:
    fields: dict[str, Any] = {name: (list[model], []) for name, model in RECORD_MODELS.items()}  # type: ignore[valid-type]
    model = create_model("Dataset", **fields)
    model.__doc__ = "A dataset as JSON or YAML: an object whose keys are record types, each a list of records."
    return model


def _with_labels(schema: dict[str, Any]) -> dict[str, Any]:
    """Titles, descriptions and examples of the dataset schema from the field vocabulary (engine.data.vocabulary)."""
    for record_type, model in RECORD_MODELS.items():
        info = record_type_info(record_type)
        schema["properties"][record_type]["title"] = f"{info.label_zh}（{info.label_en}）"
        schema["properties"][record_type]["description"] = info.description
        definition = schema["$defs"][model.__name__]
        definition["title"] = f"{info.label_zh}（{model.__name__}）"
        definition["description"] = info.description
        for f in fields(record_type):
            prop = definition["properties"][f.name]
            prop["title"] = f.label_zh
            unit = f"单位：{f.unit}。" if f.unit else ""
            prop["description"] = f"{f.description}。{unit}{f.label_en}。依据：{f.source}"
            if f.canonical_example is not None:
                prop["examples"] = [f.canonical_example]
    return schema


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every document the product reads or writes."""
    return {
        "dataset.schema.json": _with_labels(_dataset_model().model_json_schema()),
        "rule-pack.schema.json": PackModel.model_json_schema(by_alias=True),
        "rule.schema.json": RuleModel.model_json_schema(by_alias=True),
        "rule-tests.schema.json": CaseFileModel.model_json_schema(),
        "decision-document.schema.json": DecisionDocumentModel.model_json_schema(),
    }


def schema_text(schema: dict[str, Any]) -> str:
    """A schema as it is written to disk."""
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schema_documents().items():
        path = directory / name
        path.write_text(schema_text(schema), encoding="utf-8")
        written.append(path)
    return written
