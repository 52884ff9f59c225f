"""The committed JSON Schemas are current, and the decision document conforms to its model."""

from __future__ import annotations

import datetime as dt

from conftest import EXAMPLES, REPO
from engine.output.decisions import DecisionDocumentModel
from engine.engines.reference import evaluate_dataset
from engine.data.loaders import load_dataset
from engine.output.schema import schema_documents, schema_text


def test_committed_schemas_are_current():
    for name, schema in schema_documents().items():
        path = REPO / "schemas" / name
        assert path.exists(), f"{name} missing: run 'chanjiao schema'"
        assert path.read_text(encoding="utf-8") == schema_text(schema), f"{name} is stale: run 'chanjiao schema'"


def test_decision_documents_conform(packs):
    for example in ("tonghua-self-assessment.json", "bad-records.json", "tonghua-finance-bureau"):
        doc = evaluate_dataset(load_dataset(EXAMPLES / example), packs, dt.date(2021, 12, 31))
        DecisionDocumentModel.model_validate(doc)
