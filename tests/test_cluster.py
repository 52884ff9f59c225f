"""The Dask run on a real LocalCluster: row for row the single-machine stream's decisions, summary and errors."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCALE, generated, make_uscc, write_formats
from engine.messages import render
from engine.run.cluster import check_dask, pieces
from engine.errors import FatalError
from engine.policy.packs import load_packs
from engine.run.stream import check_stream, input_files, partitions_for
from test_stream import messy

PACKS, _ = load_packs()
AS_OF = dt.date(2021, 12, 31)


@pytest.fixture(scope="module")
def client():
    """Three single-threaded worker processes, owned by this module and closed after it."""
    with LocalCluster(n_workers=3, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster, set_as_default=False) as c:
            yield c


def assert_same_as_stream(client, folder: Path, base: Path, chunk: int, piece_bytes: int, overrides=None):
    """The Dask run with the stream's partition count equals the stream: decisions in order, and every file."""
    (base / "local").mkdir(parents=True)
    local = check_stream(folder, PACKS, AS_OF, overrides, base / "local" / "d.parquet", "parquet",
                         chunk_enterprises=chunk, progress=False)
    parts = partitions_for(input_files(folder), chunk)
    res = check_dask(folder, PACKS, AS_OF, overrides, base / "dask" / "d.parquet", client, partitions=parts,
                     piece_bytes=piece_bytes)
    assert (res.records, res.decisions) == (local.records, local.decisions)
    assert res.errors == local.errors and res.warnings == local.warnings
    for name in ("d.parquet", "d.rollups.parquet"):
        want = base / "local" / name
        got = base / "dask" / name
        if want.exists():
            assert pq.read_table(got).equals(pq.read_table(want)), name
        else:  # nothing decided (or nothing to roll up): no part has a row
            assert not any(pq.read_table(p).num_rows for p in got.glob("part-*.parquet"))
    for name in ("d.summary.json", "d.errors.csv"):
        assert (base / "dask" / name).read_bytes() == (base / "local" / name).read_bytes(), name


def test_a_generated_population_in_many_pieces_and_partitions(client, tmp_path):
    folder = generated(tmp_path / "in", 2000)
    assert len(pieces(folder / "internship_payments.csv", 40_000)) > 5  # several pieces per file
    assert_same_as_stream(client, folder, tmp_path, chunk=300, piece_bytes=40_000)


def test_parquet_input_by_row_group_and_a_what_if(client, tmp_path):
    folder = generated(tmp_path / "csv", 600)
    pq_folder = tmp_path / "in"
    pq_folder.mkdir()
    for f in folder.iterdir():  # small row groups: a task per row group
        pq.write_table(pacsv.read_csv(f), pq_folder / f"{f.stem}.parquet", row_group_size=200)
    assert len(pieces(pq_folder / "enterprises.parquet")) == 3
    assert_same_as_stream(client, pq_folder, tmp_path, chunk=150, piece_bytes=1 << 20,
                          overrides={"certificate_subsidy_amount": Decimal("1500")})


@settings(max_examples=8 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messy(), st.integers(1, 3), st.integers(60, 400))
def test_messy_datasets_across_workers(client, tmp_path_factory, raw, chunk, piece_bytes):
    """Duplicate ids in different partitions and pieces, invalid rows, dangling references: as the stream."""
    base = tmp_path_factory.mktemp("d")
    folder = write_formats(raw, base / "in")["csv"]
    assert_same_as_stream(client, folder, base, chunk, piece_bytes)


def test_a_gbk_export_with_chinese_names_title_lines_and_bad_lines_in_small_pieces(client, tmp_path):
    """The reader's layout (GBK, Chinese names and headers, a title line, 合计, blank and ragged lines) is the
    same in every piece: errors and warnings at the same places as the stream, byte for byte."""
    from conftest import EXAMPLES

    folder = tmp_path / "in"
    shutil.copytree(EXAMPLES / "tonghua-finance-bureau-gbk", folder)
    with open(folder / "学校.csv", "ab") as fh:
        fh.write("TH-X1,坏行,220502\r\n\r\n,,,,,,,,,\r\nTH-X3,三,220502,大学,否,,,,,\r\n".encode("gbk"))
    assert_same_as_stream(client, folder, tmp_path / "out", chunk=2, piece_bytes=200)


def test_a_second_run_replaces_the_parts_of_the_first(client, tmp_path):
    folder = generated(tmp_path / "in", 300)
    out = tmp_path / "out" / "d.parquet"
    check_dask(folder, PACKS, AS_OF, None, out, client, partitions=6)
    first = pq.read_table(out).sort_by([("rule_id", "ascending"), ("subject_id", "ascending")])
    check_dask(folder, PACKS, AS_OF, None, out, client, partitions=2)
    assert sorted(p.name for p in out.glob("part-*.parquet")) == ["part-00000.parquet", "part-00001.parquet",
                                                                  "part-00002.parquet"]
    assert pq.read_table(out).sort_by([("rule_id", "ascending"), ("subject_id", "ascending")]).equals(first)


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    folder = generated(tmp_path / "in", 10)
    with pytest.raises(FatalError) as exc:
        check_dask(folder, PACKS, AS_OF, None, tmp_path / "d.parquet", "tcp://127.0.0.1:1", connect_timeout=1)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in render(exc.value.args[0], "en")
    assert str(exc.value).startswith("无法连接 Dask 调度器 tcp://127.0.0.1:1") and "\n" not in str(exc.value)


def test_an_unreadable_file_is_one_line(client, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(generated(tmp_path / "gen", 10) / "enterprises.csv", folder / "enterprises.csv")
    (folder / "schools.parquet").write_bytes(b"not parquet")
    with pytest.raises(FatalError) as exc:
        check_dask(folder, PACKS, AS_OF, None, tmp_path / "d.parquet", client)
    assert "schools.parquet: cannot be read" in render(exc.value.args[0], "en") and "\n" not in str(exc.value)
    assert "schools.parquet：无法读取" in str(exc.value)


def test_without_the_dask_extra_the_hint_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(FatalError) as exc:
        check_dask(generated(tmp_path / "in", 10), PACKS, AS_OF, None, tmp_path / "d.parquet", "local")
    assert render(exc.value.args[0], "en") == "a Dask run needs the dask extra: pip install '.[dask]' in the repository"
    assert str(exc.value) == "Dask 运行需要 dask 扩展：在仓库中运行 pip install '.[dask]'"


def test_a_line_break_in_a_quoted_field_at_a_cut_is_one_line_that_says_so(client, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    head = "id,name,region_code\n"
    first = f'{make_uscc("220502", 1)},"通化一号\n分厂",220502\n'
    (folder / "enterprises.csv").write_text(head + first + f"{make_uscc('220502', 2)},二号,220502\n", encoding="utf-8")
    cut = len((head + first.split("\n")[0] + "\n").encode("utf-8")) - len(head.encode("utf-8"))
    with pytest.raises(FatalError) as exc:
        check_dask(folder, PACKS, AS_OF, None, tmp_path / "d.parquet", client, piece_bytes=cut - 1)
    assert "a quoted field holding a line break" in render(exc.value.args[0], "en") and "\n" not in str(exc.value)
    assert "换行" in str(exc.value) and "Parquet" in str(exc.value)


def test_a_local_cluster_needs_a_number_of_workers(tmp_path):
    with pytest.raises(FatalError) as exc:
        check_dask(generated(tmp_path / "in", 10), PACKS, AS_OF, None, tmp_path / "d.parquet", "local:many")
    assert render(exc.value.args[0], "en") == "--dask local:many: local:N needs a whole number of workers, e.g. local:4"
    assert "local:N 中的 N 应为整数" in str(exc.value)


def test_rejected_records_are_unknown_as_in_the_stream(client, tmp_path):
    """Rejected agreements, schools and certificates: the same undetermined decisions, the rejected subject's too."""
    from test_rejected import _case

    folder = write_formats(_case(), tmp_path / "in")["csv"]
    assert_same_as_stream(client, folder, tmp_path, chunk=1, piece_bytes=200)
    rows = pq.read_table(tmp_path / "dask" / "d.parquet").to_pylist()
    cert = [r for r in rows if r["rule_id"] == "tonghua.certificate_subsidy" and r["subject_id"] == "C1"]
    assert [r["rejected_inputs"] for r in cert] == [[{"record_type": "certificates", "row": 1, "id": "C1",
                                                       "place": "certificates.csv:2"}]]


def test_repeated_ids_and_rows_not_read_are_rejected_input_as_in_the_stream(client, tmp_path):
    """A repeat of an accepted agreement id (read back whole from the workers) and a ragged agreement row."""
    from test_rejected import ENT, _case

    raw = _case()
    raw["agreements"].append({**raw["agreements"][0], "school_id": "S2"})  # A1 again, with another school
    folder = write_formats(raw, tmp_path / "in")["csv"]
    with open(folder / "agreements.csv", "a", encoding="utf-8") as fh:
        fh.write("A9,有,逗号,的,行,多,出,来,了\n")
    assert_same_as_stream(client, folder, tmp_path, chunk=1, piece_bytes=200)
    rows = pq.read_table(tmp_path / "dask" / "d.parquet").to_pylist()
    [coop] = [r for r in rows if r["rule_id"] == "tonghua.key_enterprise_cooperation" and r["subject_id"] == ENT]
    assert {"record_type": "agreements", "row": 3, "id": "A1", "place": "agreements.csv:4"} in coop["rejected_inputs"]
    assert {"record_type": "agreements", "row": 0, "id": None, "place": "agreements.csv:5"} in coop["rejected_inputs"]


def test_blank_rows_are_no_records_as_in_the_stream(client, tmp_path):
    """Rows of empty cells in several pieces: counted and numbered nowhere, as the stream and the loaders do."""
    folder = generated(tmp_path / "in", 60)
    path = folder / "certificates.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    blank = "," * lines[0].count(",")
    lines[5] = lines[5].replace(lines[5].split(",")[4], "2021-02-30")  # a bad row after the blank ones
    path.write_text("\n".join([lines[0], blank, *lines[1:4], blank, blank, *lines[4:]]) + "\n", encoding="utf-8")
    assert_same_as_stream(client, folder, tmp_path, chunk=20, piece_bytes=300)
    errors = (tmp_path / "dask" / "d.errors.csv").read_text(encoding="utf-8")
    assert ",certificates,5," in errors
