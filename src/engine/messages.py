"""Every message people read, defined once in Chinese and English.

A message is made with :func:`msg` from a key of :data:`CATALOGUE` and its parameters. It is a
:class:`Message`: a ``str`` holding the Chinese text (the default language), which also remembers its key and
parameters so that :meth:`Message.render` gives it in English. Messages are values like any string — errors
compare, pickle (to worker processes and back) and serialise as their Chinese text — and a document is put into
the language the user asked for once, at the end, by :func:`localise`. Parameters may be messages themselves
(an expectation inside an error); they are rendered in the same language.

The language of a run is ``--lang zh|en``; without it :func:`default_lang` follows the locale (LC_ALL, then
LC_MESSAGES, then LANG: a value starting with ``en`` means English, anything else Chinese).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

__all__ = ["LANGS", "CATALOGUE", "Message", "msg", "join", "render", "localise", "default_lang", "resolve_lang"]

LANGS = ("zh", "en")

# key -> (Chinese, English). str.format templates; a parameter that is a Message is rendered in the same language.
CATALOGUE: dict[str, tuple[str, str]] = {
    # --- what a field expects (engine.data.records) ---
    "expect.text": ("文本", "text"),
    "expect.uscc": ("18位统一社会信用代码（GB 32100-2015），校验码正确，例如 91220502MA0Y0A0133",
                    "an 18-character 统一社会信用代码 (GB 32100-2015) with a valid check character, "
                    "e.g. 91220502MA0Y0A0133"),
    "expect.region_code": ("6位 GB/T 2260 行政区划代码，例如 220502", "a six-digit GB/T 2260 region code, e.g. 220502"),
    "expect.year": ("整数（年份），例如 2021", "a whole number (year), e.g. 2021"),
    "expect.count": ("不小于 0 的整数，例如 3260", "a whole number ≥ 0, e.g. 3260"),
    "expect.money": ("金额：不小于 0 的元数，最多两位小数，例如 1950.50",
                     "money: yuan ≥ 0 with at most 2 decimal places, e.g. 1950.50"),
    "expect.money_positive": ("金额：大于 0 的元数，最多两位小数，例如 1950.50",
                              "money: yuan > 0 with at most 2 decimal places, e.g. 1950.50"),
    "expect.date": ("日期 YYYY-MM-DD，例如 2021-03-05", "a date YYYY-MM-DD, e.g. 2021-03-05"),
    "expect.bool": ("是/否（也可写 true/false、1/0、yes/no）", "a boolean: true/false, 1/0, 是/否 or yes/no"),
    "expect.one_of": ("以下之一：{choices_zh}", "one of {choices}"),
    # --- why a value was rejected ---
    "record.expected": ("应填写{expected}", "expected {expected}"),
    "record.expected_detail": ("{detail}；应填写{expected}", "expected {expected} ({detail})"),
    "record.required": ("必须填写：{expected}", "a value is required: expected {expected}"),
    "detail.uscc_length": ("{n} 个字符，不是 18 个", "{n} characters, not 18"),
    "detail.uscc_lowercase": ("含小写字母；是否应为“{upper}”？", "lowercase letters; did you mean {upper!r}?"),
    "detail.uscc_char": ("不允许字符“{char}”", "character {char!r} is not allowed"),
    "detail.uscc_check": ("校验码为“{got}”，应为“{want}”", "check character is {got!r}, should be {want!r}"),
    "detail.six_digits": ("应为六位数字", "six digits"),
    "detail.province": ("{prefix} 不是 GB/T 2260 省级代码", "{prefix} is not a GB/T 2260 province code"),
    "detail.not_whole": ("不是整数", "not a whole number"),
    "detail.over_17_digits": ("超过 17 位数字", "more than 17 digits"),
    "detail.negative": ("为负数", "negative"),
    "detail.zero": ("必须大于零", "must be greater than zero"),
    "detail.decimals": ("超过两位小数", "more than 2 decimal places"),
    "detail.over_16_digits": ("整数部分超过 16 位", "more than 16 digits before the decimal point"),
    "detail.no_such_date": ("没有这一天", "no such date"),
    "record.valid_to": ("截止日期（valid_to）不得早于生效日期（valid_from，{valid_from}）",
                        "expected valid_to on or after valid_from ({valid_from})"),
    "record.duplicate_id": ("id“{id}”重复：保留第一条使用该 id 的记录",
                            "duplicate id {id!r}: the first record with this id is kept"),
    "record.unknown_field": ("未知字段“{name}”，已忽略{hint}", "unknown field {name!r} is ignored{hint}"),
    "hint.did_you_mean": ("；是否应为“{name}”？", "; did you mean {name!r}?"),
    "record.dangling": ("{field_zh}（{field}）“{ref}”不在本数据集的{target_zh}中：相关事实未知",
                        "{field} {ref!r} is not among the dataset's {target}: its facts are unknown"),
    "record.dangling_rejected": ("{field_zh}（{field}）“{ref}”是{target_zh}中被拒绝的记录（第 {row} 行）：相关事实未知",
                                 "{field} {ref!r} is a rejected record of {target} (row {row}): its facts are unknown"),
    "record.other_city": ("注册地行政区划代码 {region} 与统一社会信用代码中的登记地 {registered} 不在同一城市",
                          "region_code {region} lies in another city than the registration region {registered} "
                          "embedded in the 统一社会信用代码"),
    "record.org_code": ("组织机构代码 {code} 未通过 GB 11714 校验（第 17 位应为“{expected}”）；该代码仍予接受",
                        "the organization code {code} fails its GB 11714 check (expected {expected!r} at "
                        "character 17); the code is accepted"),
    # --- reading files (engine.data.loaders) ---
    # --- resource limits on input (engine.data.limits) ---
    "limit.over": ("{where}：{label}超过上限 {value}{found}，可用 --limit {name}=N 提高",
                   "{where}: {label} over the limit of {value}{found}; raise it with --limit {name}=N"),
    "limit.found": ("（{found}）", " ({found})"),
    "limit.label.file_size": ("文件大小", "file size"),
    "limit.label.xlsx_unzipped": ("XLSX 解压后大小", "XLSX uncompressed size"),
    "limit.label.xlsx_cells": ("XLSX 单元格数", "XLSX cells"),
    "limit.label.csv_columns": ("CSV 列数", "CSV columns"),
    "limit.label.line_length": ("单行长度", "line length"),
    "limit.label.nesting": ("嵌套层数", "nesting depth"),
    "limit.label.yaml_alias_nodes": ("YAML 别名展开节点数", "nodes added by YAML aliases"),
    "limit.not_regular": ("{path}：不是普通文件（{kind}），不予读取", "{path}: not a regular file ({kind}); refused"),
    "limit.unknown": ("--limit {item}：未知的限制（可用：{names}）", "--limit {item}: unknown limit (known: {names})"),
    "limit.bad_value": ("--limit {item}：应为正整数，大小可带 K/M/G 后缀",
                        "--limit {item}: expected a positive whole number (sizes may end in K, M or G)"),
    "limit.too_deep_record": ("记录嵌套超过 {n} 层，无法读取（可用 --limit nesting=N 提高）",
                              "nested deeper than {n} levels (raise it with --limit nesting=N)"),
    "limit.recursive_alias": ("递归的 YAML 别名 *{anchor}", "recursive YAML alias *{anchor}"),
    "limit.line_over_block": ("{path}：有一行超过流式读取块大小 {block} 字节，可用 --chunk-size 提高（块 = 120 字节 × "
                              "chunk-size）", "{path}: a line longer than the streaming read block of {block} bytes; "
                              "raise it with --chunk-size (block = 120 bytes x chunk size)"),
    "watch.line_too_long": ("行长度超过上限 {n} 字节（可用 --limit line_length=N 提高）",
                            "line longer than {n} bytes (raise it with --limit line_length=N)"),
    "watch.not_utf8": ("不是有效的 UTF-8 文本（第 {byte} 字节：{reason}）", "not UTF-8 text (byte {byte}: {reason})"),
    "detail.surrogate": ("含孤立代理字符，不是有效的 Unicode 文本", "a lone surrogate, not valid Unicode text"),
    # --- --param values (engine.policy.params) ---
    "override.not_number": ("参数 {name} 的值“{text}”不是数字{unit}", "parameter {name}: {text!r} is not a plain "
                            "decimal number{unit}"),
    "override.unit": ("（单位 {unit}）", " in {unit}"),
    "override.type": ("参数 {name} 的类型是 {type}，不能用 --param 改变",
                   "parameter {name} is a {type}; only number parameters can be overridden"),
    "override.out_of_range": ("参数 {name}={value} 超出范围 {range}；如需测算范围之外的值请加 --allow-out-of-range",
                           "parameter {name}={value} is outside its range {range}; add --allow-out-of-range for "
                           "such a what-if"),
    "override.beyond": ("参数 {name}={value} 超出政策规定的范围 {range}：本结果是范围之外的假设测算，不是政策结论",
                     "parameter {name}={value} is outside the policy's range {range}: a what-if, not the policy's "
                     "outcome"),
    "file.not_found": ("{path}：文件或文件夹不存在", "{path}: no such file or directory"),
    "file.unknown_format": ("{path}：未知的数据集格式 {suffix}；应为 .json、.yaml、.xlsx 文件或存放 CSV 文件的文件夹",
                            "{path}: unknown dataset format {suffix}; expected .json, .yaml, .xlsx or a directory "
                            "of CSV files"),
    "word.no_extension": ("（无扩展名）", "(no extension)"),
    "file.not_utf8": ("{path}：不是 UTF-8 文本（第 {byte} 字节：{reason}）", "{path}: not UTF-8 text (byte {byte}: {reason})"),
    "file.unreadable": ("{path}：无法读取（{reason}）", "{path}: cannot be read ({reason})"),
    "file.bad_json": ("{where}：JSON 格式错误：{problem}", "{where}: malformed JSON: {problem}"),
    "file.bad_yaml": ("{where}：YAML 格式错误：{problem}", "{where}: malformed YAML: {problem}"),
    "file.not_object": ("{path}：应为以记录类型为键的对象，实际为 {found}",
                        "{path}: expected an object whose keys are record types, found {found}"),
    "file.not_list": ("{path}：“{key}”应为对象的列表", "{path}: {key!r} must be a list of objects"),
    "file.no_csv": ("{path}：没有 CSV 文件（应为以记录类型命名的文件，例如 enterprises.csv 或 企业.csv）",
                    "{path}: no CSV files (expected files named <record type>.csv, e.g. enterprises.csv)"),
    "file.bad_csv": ("{path}：CSV 格式错误：{problem}", "{path}: malformed CSV: {problem}"),
    "file.bad_xlsx": ("{path}：不是可读取的 XLSX 工作簿（{problem}）", "{path}: not a readable XLSX workbook ({problem})"),
    "loader.unknown_type": ("{where}“{name}”不是记录类型，已忽略{hint}", "{where} {name!r} is not a record type and is ignored{hint}"),
    # --- reading files as people keep them (engine.data.loaders, engine.data.records) ---
    "forms.date": ("2021-03-05、2021-3-5、2021/3/5、2021.3.5、2021年3月5日，或电子表格的日期单元格",
                   "2021-03-05, 2021-3-5, 2021/3/5, 2021.3.5, 2021年3月5日, or a spreadsheet date cell"),
    "forms.money": ("1234.56、1,234.56、¥1,234.56、1234.56元", "1234.56, 1,234.56, ¥1,234.56, 1234.56元"),
    "record.expected_forms": ("应填写{expected}（可接受的写法：{forms}）", "expected {expected} (accepted forms: {forms})"),
    "record.too_long": ("单元格超过 {max} 个字符（{n} 个）；应填写{expected}",
                        "a cell of more than {max} characters ({n}); expected {expected}"),
    "record.total_row": ("“{word}”行（小计或合计）已跳过，不作为记录读取",
                         "a “{word}” (subtotal or total) row was skipped, not read as a record"),
    "record.footer_row": ("表尾“{word}”行（签字、日期或说明）已跳过，不作为记录读取",
                          "a footer row “{word}…” (signature, date or note) was skipped, not read as a record"),
    "loader.unknown_source": ("{what}“{name}”不是记录类型，其中 {rows} 行数据{span}未读取{hint}",
                              "{what} {name!r} is not a record type: its {rows} row(s) of data{span} were not "
                              "read{hint}"),
    "loader.unread_file": ("文件“{name}”未读取：数据集文件夹只读取 .csv 和 .parquet 文件；是否应为 {label}（{type}）？"
                           "请另存为 CSV",
                           "file {name!r} was not read: a dataset folder is read for .csv and .parquet files only; "
                           "is it {type} ({label})? Save it as CSV"),
    "loader.hint_type": ("；是否应为 {label}（{type}）？", "; did you mean {type} ({label})?"),
    "loader.hint_types": ("；可用的名称：{names}", "; the names are: {names}"),
    "loader.span": ("（第 {first}–{last} 行）", " (lines {first}–{last})"),
    "loader.span_from": ("（第 {line} 行起）", " (from line {line})"),
    "loader.two_sources": ("{label}（{type}）有两个来源：“{first}”和“{second}”；只读取了“{first}”，“{second}”的 {rows} "
                           "行数据{span}未读取（请合并为一个）",
                           "{type} ({label}) has two sources, {first!r} and {second!r}: only {first!r} was read; "
                           "the {rows} row(s) of {second!r}{span} were not (merge them into one)"),
    "loader.gbk": ("“{name}”不是 UTF-8 编码，已按 {encoding}（GBK）读取（Excel“CSV（逗号分隔）”的格式）；如有乱码，"
                   "请另存为“CSV UTF-8”",
                   "{name!r} is not UTF-8: it was read as {encoding} (GBK), as Excel's “CSV (Comma delimited)” "
                   "saves it; if the text looks garbled, save it as “CSV UTF-8”"),
    "file.not_utf8_nor_gbk": ("{path}：既不是 UTF-8 文本，也不是 GBK/GB18030 中文文本{detail}；请另存为“CSV UTF-8”",
                              "{path}: not UTF-8 text{detail}, nor GBK/GB18030 Chinese text; save it as “CSV UTF-8”"),
    "file.not_utf8_at": ("（第 {byte} 字节：{reason}）", " (byte {byte}: {reason})"),
    "file.null_document": ("{path}：文档为空（null）：应为以记录类型为键的对象，例如 {{\"enterprises\": [...]}}",
                           "{path}: the document is empty (null): expected an object whose keys are record types, "
                           "e.g. {{\"enterprises\": [...]}}"),
    "file.too_deep": ("{path}：{fmt} 格式错误：嵌套过深", "{path}: malformed {fmt}: nested too deeply"),
    "file.parquet_nested": ("{where}：列“{column}”（{field}）的类型是 {type}，不是文本、数字或日期",
                            "{where}: column {column!r} ({field}) holds {type}, not text, numbers or dates"),
    "loader.duplicate_header": ("{where}：表头重复：{first}“{a}”和{second}“{b}”都是字段 {field}；请删除或改名其中一列",
                                "{where}: duplicate header: {first} {a!r} and {second} {b!r} are both field {field}; "
                                "delete or rename one of them"),
    "word.column_letter": ("{col} 列", "column {col}"),
    "word.column_number": ("第 {n} 列", "column {n}"),
    "loader.header_row_beyond": ("{name}：--header-row {row} 超出了文件的 {n} 行",
                                 "{name}: --header-row {row} is beyond the file's {n} rows"),
    "loader.duplicate_key": ("键“{key}”出现两次：只读取了第一次，第 {line} 行的 {rows} 条记录未读取",
                             "key {key!r} appears twice: only the first was read; the {rows} record(s) at line "
                             "{line} were not"),
    "loader.record_not_object": ("这一项不是对象：一条记录应写作 {{字段: 值, …}}",
                                 "this item is not an object: a record is written {{field: value, …}}"),
    "loader.duplicate_field": ("字段“{field}”在这条记录中出现两次：无法确定取哪个值",
                               "field {field!r} appears twice in this record: which value holds cannot be told"),
    "loader.ragged_row": ("第 {line} 行有 {n} 个单元格，表头有 {width} 列：这一行未读取（多半是文字中有未加引号的逗号，"
                          "或缺了单元格）",
                          "line {line} has {n} cells but the header has {width} columns: the row was not read "
                          "(most likely an unquoted comma in a text, or missing cells)"),
    "loader.unnamed_column": ("{column}有数据（如{where}）但没有表头：这一列未读取",
                              "{column} holds data (e.g. {where}) but has no header: the column was not read"),
    "loader.formula_no_value": ("单元格 {cell} 是公式 {formula}，但没有保存计算结果：请在 Excel 或 WPS 中打开并保存后再检查",
                                "cell {cell} holds the formula {formula} without a saved result: open and save the "
                                "workbook in Excel or WPS, then check again"),
    "stream.rows_disagree": ("{path}：{n} 行无法按列读取，而逐行读取有 {m} 行无法读取；Dask 在行尾切分 CSV 文件，"
                             "因此含换行的带引号字段无法在此读取：请改用 Parquet",
                             "{path}: {n} row(s) could not be read column-wise but {m} row by row; a Dask run cuts CSV "
                             "files at line ends, so a quoted field holding a line break cannot be read there: give "
                             "the data as Parquet"),
    "cli.nothing_decided": ("chanjiao: 没有可判定的记录（{n} 个记录错误，列在输出的 errors 中）",
                            "chanjiao: no record could be decided ({n} record error(s), listed in the output's errors)"),
    "word.sheet": ("工作表", "sheet"),
    "word.file": ("文件", "file"),
    "word.key": ("键", "key"),
    # --- the command line (engine.cli) ---
    "cli.error": ("chanjiao: 错误：{problem}", "chanjiao: error: {problem}"),
    "cli.bad_as_of": ("--as-of“{text}”不是日期 YYYY-MM-DD（例如 2021-12-31）",
                      "--as-of {text!r} is not a date YYYY-MM-DD"),
    "cli.invalid_pack": ("规则包有误：{first}{more}", "invalid rule pack: {first}{more}"),
    "cli.more_pack_errors": ("（另有 {n} 处；请运行 'chanjiao rules lint'）", " (and {n} more; run 'chanjiao rules lint')"),
    "cli.param": ("--param：{problem}", "--param: {problem}"),
    "param.unknown": ("未知参数“{name}”（已知参数：{known}）", "unknown parameter {name!r} (known: {known})"),
    "param.not_number": ("参数 {name}：“{value}”不是数字", "parameter {name}: {value!r} is not a number"),
    "param.form": ("“{text}”应写作 NAME=VALUE 或 PACK.NAME=VALUE", "{text!r} must be NAME=VALUE or PACK.NAME=VALUE"),
    "cli.cannot_run": ("{engine} 引擎无法运行规则 {problem}（请使用 --engine auto 或 reference）",
                       "the {engine} engine cannot run rule {problem} (use --engine auto or reference)"),
    "cli.no_rule": ("没有规则“{rule}”{hint}", "no rule {rule!r}{hint}"),
    "cli.rules_known": ("（现有规则：{ids}）", " (rules: {ids})"),
    "cli.needs_output": ("--format {fmt} 需要 --output 文件", "--format {fmt} needs --output FILE"),
    "cli.cannot_write": ("无法写入 {path}：{reason}", "cannot write {path}: {reason}"),
    "output.no_folder": ("无法写入 {path}：文件夹 {folder} 不存在", "cannot write {path}: the folder {folder} does not exist"),
    "cli.record_errors": ("chanjiao: {n} 条记录错误：被拒绝的记录列在输出的 errors 中；其余记录均已判定",
                          "chanjiao: {n} record error(s): rejected records are listed in the output's errors; "
                          "every other record was decided"),
    "cli.record_errors_in": ("chanjiao: {n} 条记录错误：被拒绝的记录列在 {path} 中；其余记录均已判定",
                             "chanjiao: {n} record error(s): rejected records are listed in {path}; every other "
                             "record was decided"),
    "cli.closing": ("chanjiao: {records:,} 条记录，{decisions:,} 项决定 → {outputs}",
                    "chanjiao: {records:,} records, {decisions:,} decisions → {outputs}"),
    "cli.dask_output": ("--dask 需要 --output 文件夹（存放 Parquet 分片）", "--dask needs --output DIR (a directory of Parquet parts)"),
    "cli.dask_format": ("--dask 只写 Parquet；不能使用 --format {fmt}",
                        "--dask writes Parquet; --format {fmt} is not available there"),
    "cli.dask_engine": ("--dask 运行向量化后端，不能使用 --engine {engine}",
                        "--dask runs the vectorised backend, not --engine {engine}"),
    "cli.durable_crashed": ("{problem}，这是其 C 引擎的已知缺陷；已改由参考评估器判定（判定相同）",
                            "{problem}, a known defect of its C engine; the reference evaluator decided "
                            "instead (the same decisions)"),
    "cli.no_subject": ("没有 id 为“{id}”的已接受的{type_zh}（{type}）记录{why}",
                       "no accepted {type} record with id {id!r}{why}"),
    "cli.subject_rejected": ("（第 {row} 行被拒绝：{message}）", " (row {row} was rejected: {message})"),
    "cli.watch_line": ("chanjiao: 第 {line} 行：{problem}；已跳过", "chanjiao: line {line}: {problem}; skipped"),
    "cli.cannot_open": ("{path}：{reason}", "{path}: {reason}"),
    "usage.no_such_option": ("没有选项 {option}{hint}（chanjiao --help 查看用法）", "No such option: {option}{hint}"),
    "usage.no_such_command": ("没有命令“{name}”{hint}（chanjiao --help 列出全部命令）", "No such command {name!r}{hint}"),
    "gap.supply_up": ("补充 {fact}：不低于 ¥{target}{cap} 即可判定为符合",
                      "supply {fact}: at least ¥{target}{cap} to be decided favourably"),
    "gap.supply_down": ("补充 {fact}：不高于 ¥{target}{cap} 即可判定为符合",
                        "supply {fact}: at most ¥{target}{cap} to be decided favourably"),
    "gap.cap": (" 且不高于 ¥{max}", " and at most ¥{max}"),
    "gap.increase": ("{fact} 还需增加 ¥{amount}（达到 ¥{target}）", "{fact}: increase by ¥{amount} (to ¥{target})"),
    "gap.decrease": ("{fact} 需减少 ¥{amount}（达到 ¥{target}）", "{fact}: decrease by ¥{amount} (to ¥{target})"),
    "usage.not_one_of": ("{name} 的值“{value}”不是可选值之一：{choices}", "Invalid value for {name}: {value!r} is not one of {choices}."),
    "usage.missing": ("缺少{what} {name}（chanjiao --help 查看用法）", "Missing {what} {name}."),
    "usage.bad_value": ("{name} 的值有误：{detail}", "Invalid value for {name}: {detail}"),
    "word.argument": ("参数", "argument"),
    "word.option": ("选项", "option"),
    "word.parameter": ("参数", "parameter"),
    "cli.interrupted": ("chanjiao: 已中断", "chanjiao: interrupted"),
    "cli.internal": ("chanjiao: 内部错误：{name}：{problem}（设置 CHANJIAO_DEBUG=1 可查看详情）",
                     "chanjiao: internal error: {name}: {problem} (set CHANJIAO_DEBUG=1 for details)"),
    "cli.bad_lang": ("--lang 应为 zh 或 en，不是“{value}”", "--lang must be zh or en, not {value!r}"),
    # --- streamed and Dask checks (engine.run.stream, engine.run.cluster) ---
    "stream.not_dir": ("{path}：流式处理读取的是存放 <记录类型>.csv 或 .parquet 文件的文件夹",
                       "{path}: streaming reads a directory of <record type>.csv or .parquet files"),
    "stream.no_files": ("{path}：没有以记录类型命名的 CSV 或 Parquet 文件（例如 enterprises.csv 或 企业.csv）",
                        "{path}: no CSV or Parquet files named after a record type (e.g. enterprises.csv)"),
    "stream.unreadable": ("{path}：无法读取（{problem}）{hint}", "{path}: cannot be read ({problem}){hint}"),
    "stream.fallback": ("向量化后端无法流式运行这些规则：{rules}", "rules the vectorised backend cannot stream: {rules}"),
    "stream.worker_died": ("判定的一个工作进程意外停止（{problem}）；空闲内存较少时，请减小 --chunk-size 或使用 --workers 1",
                           "a worker process of the check stopped unexpectedly ({problem}); with less memory free, "
                           "try a smaller --chunk-size or --workers 1"),
    "dask.output_is_file": ("{path}：Dask 运行要在此处写 Parquet 分片文件夹，但这是一个文件",
                            "{path}: a Dask run writes a directory of Parquet parts here, and this is a file"),
    "dask.local_n": ("--dask {scheduler}：local:N 中的 N 应为整数，例如 local:4",
                     "--dask {scheduler}: local:N needs a whole number of workers, e.g. local:4"),
    "dask.unreachable": ("无法连接 Dask 调度器 {scheduler}（{problem}）", "cannot reach the Dask scheduler at {scheduler} ({problem})"),
    "dask.missing": ("Dask 运行需要 dask 扩展：在仓库中运行 pip install '.[dask]'",
                     "a Dask run needs the dask extra: pip install '.[dask]' in the repository"),
    "dask.piece_hint": ("（第 {start}–{end} 字节；Dask 运行在行尾切分 CSV 文件，引号内含换行的字段无法读取：请改用 Parquet 格式）",
                        " in bytes {start}–{end}; a Dask run cuts CSV files at line ends, so a quoted field holding a "
                        "line break cannot be read there: give the data as Parquet"),
    "dask.fallback": ("向量化后端无法在 Dask 上运行这些规则：{rules}", "rules the vectorised backend cannot run on Dask: {rules}"),
    "csv.unreadable": ("{path}：无法按 CSV 读取（{problem}）", "{path}: cannot be read as CSV ({problem})"),
    "cli.unknown_engine": ("未知引擎“{engine}”；可用引擎：{engines}", "unknown engine {engine!r}; engines: {engines}"),
    "watch.lookup_key": ("{rule}：watch 要求每个关联查找都以判定对象的字段为键（查找 {lookup} 的键是 {key}）",
                         "{rule}: watch needs every lookup keyed by a field of the subject (lookup {lookup} is keyed by "
                         "{key})"),
    # --- the fill-in template (engine.data.template) ---
    "template.format": ("模板格式应为 xlsx 或 csv，不是“{fmt}”", "the template format must be xlsx or csv, not {fmt!r}"),
    "template.suffix": ("{path}：工作簿文件名应以 .xlsx 结尾（CSV 模板请用 --format csv 并给出文件夹）",
                        "{path}: a workbook's name must end in .xlsx (for CSV files use --format csv and a folder)"),
    "template.exists": ("{path} 已存在；为免覆盖已填写的数据，请换一个名字，或加 --force 覆盖",
                        "{path} already exists; choose another name, or add --force to overwrite it"),
    "template.not_dir": ("{path} 已存在且不是文件夹", "{path} exists and is not a folder"),
    # --- watch: bad change lines ---
    "watch.field": ("字段 {field}：{message}（值“{value}”）", "field {field}: {message} (value {value!r})"),
    "watch.no_record": ("没有 id 为“{id}”的 {type} 记录可删除", "no {type} record with id {id!r} to delete"),
    "watch.not_object": ("一项变更应为 JSON 对象", "a change must be a JSON object"),
    "watch.op": ("op 应为 'upsert' 或 'delete'，不是“{op}”", "op must be 'upsert' or 'delete', not {op!r}"),
    "watch.record_type": ("record_type 应为 {types} 之一，不是“{value}”", "record_type must be one of {types}, not {value!r}"),
    "watch.record": ("record 应为对象", "record must be an object"),
    "watch.bad_json": ("JSON 格式错误：{problem}（第 {col} 列）", "malformed JSON: {problem} at column {col}"),
    "join.semicolon": ("{first}；{second}", "{first}; {second}"),
    # --- chanjiao rules ---
    "rules.show_scope": ("效力 {effect}；判定对象 {subject}；适用地区 {jurisdiction}（{prefixes}）；自 {issued} 起",
                         "effect {effect}; subject {subject}; jurisdiction {jurisdiction} ({prefixes}); from {issued}"),
    "rules.show_citation": ("依据 {document} {clause}：“{quote}”", "citation {document} {clause}: “{quote}”"),
    "rules.show_file": ("文件 {file}", "file {file}"),
    "rules.lint_summary": ("{packs} 个规则包，{rules} 条规则：{errors} 个错误，{warnings} 个警告",
                           "{packs} pack(s), {rules} rule(s): {errors} error(s), {warnings} warning(s)"),
    "rules.test_fail": ("失败 {rule}：{name}（{file}）", "FAIL {rule}: {name} ({file})"),
    "rules.test_summary": ("{passed} 个通过，{failed} 个失败", "{passed} passed, {failed} failed"),
    # --- evaluation ---
    "eval.division_by_zero": ("除数为零", "division by zero"),
    # --- explain ---
    "explain.supply": ("{label}未知：请补充该事实以作出判定", "{label} is unknown: supply it to decide"),
    # --- reports, periods, what-ifs, outputs (engine.run.periods, engine.output.benefits, engine.output.compare, engine.output.xlsx_report,
    # engine.output.atomic) ---
    "period.bad": ("--period“{text}”不是纳税年度（2021）或季度（2021Q3）",
                   "--period {text!r} is not a tax year (2021) or a quarter (2021Q3)"),
    "period.streamed": ("流式或 Dask 判定暂不支持 --period；请使用 --engine reference 或 durable",
                        "--period is not available for streamed or Dask checks yet; use --engine reference or durable"),
    "period.outside": ("{field} {day} 不在所选期间 {start} 至 {end} 内，未作判定，不计入任何合计",
                       "{field} {day} is outside the period {start} to {end}: not decided, in no total"),
    "period.after_as_of": ("{field} {day} 晚于评估日期 {as_of}，未作判定，不计入任何合计",
                           "{field} {day} is after the evaluation date {as_of}: not decided, in no total"),
    "period.after_as_of_kept": ("{field} {day} 晚于评估日期 {as_of}；请核对评估日期（--as-of）或用 --period 选择期间",
                                "{field} {day} is after the evaluation date {as_of}; check --as-of, or choose a "
                                "period with --period"),
    "output.is_input": ("--output {out} 是本次运行的输入（{inp}）；请换一个路径",
                        "--output {out} is an input of this run ({inp}); choose another path"),
    "benefits.no_enterprise": ("没有编号为 {id} 的已接受企业记录{why}", "no accepted enterprise with id {id}{why}"),
    "benefits.rejected_row": ("（第 {row} 行被拒绝：{problem}）", " (row {row} was rejected: {problem})"),
    "benefits.format": ("--enterprise 只输出 --format table 或 json，不支持 {fmt}",
                        "--enterprise writes --format table or json, not {fmt}"),
    "compare.no_scenario": ("compare 需要测算情景：--param NAME=VALUE、--scenario 文件或 --rules 文件夹",
                            "compare needs a scenario: --param NAME=VALUE, --scenario FILE or --rules DIR"),
    "scenario.unreadable": ("{path}：无法读取测算情景（{problem}）", "{path}: cannot read the scenario ({problem})"),
    "scenario.shape": ("{path}：测算情景应为映射，键为 name、params（NAME: VALUE）和 rules（文件夹列表）",
                       "{path}: a scenario is a mapping with name, params (NAME: VALUE) and rules (a list of folders)"),
    "scenario.unknown_key": ("{path}：未知的测算情景键“{key}”（可用：name、params、rules）",
                             "{path}: unknown scenario key {key!r} (keys: name, params, rules)"),
    "xlsx.too_many_sheets": ("{n} 条决定需要超过 {sheets} 个 Excel 工作表（每表 {rows} 行）；数据量这么大请用 "
                             "--format csv 或 --format parquet",
                             "{n} decisions need more than {sheets} sheets of Excel's {rows} rows; use --format csv "
                             "or --format parquet for a population this large"),
    "xlsx.sheet_too_long": ("工作表 {sheet} 需要 {n} 行，超过 Excel 的 {rows} 行；数据量这么大请用 --format csv 或 "
                            "--format json",
                            "the sheet {sheet} would need {n} rows, more than Excel's {rows}; use --format csv or "
                            "--format json for a population this large"),
    "xlsx.lang": ("--lang“{lang}”：请选择 zh 或 en", "--lang {lang!r}: choose zh or en"),
    # --- chanjiao serve, users, audit (engine.service) ---
    "serve.zip_unreadable": ("不是可读取的 zip 压缩包（{error}）", "not a readable zip archive ({error})"),
    "serve.zip_too_many": ("zip 压缩包内有 {count} 个文件，最多读取 {limit} 个", "the zip archive has {count} files; at most {limit} are read"),
    "serve.zip_not_csv": ("zip 压缩包中的“{name}”不是 CSV 文件，未读取", "zip member {name!r} is not a CSV file and is not read"),
    "serve.zip_duplicate": ("zip 压缩包中有两个名为“{name}”的文件；每种记录只能有一个文件",
                            "the zip archive holds two files named {name!r}; each record type needs one file"),
    "serve.zip_too_large": ("zip 压缩包解压后超过 {mib} MiB；请拆分导出数据，或使用命令行",
                            "the zip archive unpacks to more than {mib} MiB; split the export or use the command line"),
    "serve.zip_member": ("zip 压缩包中的“{name}”无法读取（{error}）", "zip member {name!r} cannot be read ({error})"),
    "serve.zip_no_csv": ("zip 压缩包中没有 CSV 文件（应为 <记录类型>.csv，例如 enterprises.csv）",
                         "the zip archive holds no CSV files (expected files named <record type>.csv)"),
    "serve.unknown_format": ("{name}：无法识别的数据格式 {suffix}；应为 .json、.yaml、.xlsx、.csv 或 CSV 文件的 .zip 压缩包",
                             "{name}: unknown dataset format {suffix}; expected .json, .yaml, .xlsx, .csv or a .zip of CSV files"),
    "serve.database": ("无法打开数据库：{error}", "cannot open the database: {error}"),
    "serve.listen": ("无法在 {host}:{port} 监听：{error}", "cannot listen on {host}:{port}: {error}"),
    "users.passwords_differ": ("两次输入的密码不一致", "the two passwords differ"),
    "users.bad_name": ("用户名“{name}”无效：请用 1–64 个字母、数字、“.”、“_”或“-”",
                       "user name {name!r}: use 1-64 letters, digits, '.', '_' or '-'"),
    "users.bad_role": ("角色“{role}”无效，应为 {roles} 之一", "role {role!r} is not one of {roles}"),
    "users.short_password": ("密码至少需要 {min} 个字符", "the password needs at least {min} characters"),
    "users.exists": ("用户“{name}”已存在", "user {name!r} already exists"),
    "users.no_user": ("没有用户“{name}”", "no user {name!r}"),
    "users.disabled": ("用户“{name}”已停用", "user {name!r} is disabled"),
    "audit.problem": ("第 {seq} 条：{problem}", "entry {seq}: {problem}"),
    "audit.renumbered": ("此处应为第 {expected} 条：有记录被删除或重新编号",
                         "expected entry {expected} here: entries removed or renumbered"),
    "audit.unlinked": ("与前一条记录不衔接（有记录被删除或重排）", "does not follow the entry before it (removed or reordered)"),
    "audit.altered": ("内容与其哈希不符（被改动）", "its fields do not match its hash (altered)"),
    "audit.input_altered": ("输入数据与其摘要不符（被改动）", "its input does not match its digest (altered)"),
    "audit.document_altered": ("判定文档与其摘要不符（被改动）", "its document does not match its digest (altered)"),
    "audit.head_missing": ("链头 {head} 已不在日志中（末尾的记录被删除）",
                           "head {head} is no longer in the log (entries removed from the end)"),
    "audit.intact": ("{count} 条记录：完整；链头 {head}", "{count} entries: intact; head {head}"),
    "audit.broken": ("{count} 条记录：{n} 处问题", "{count} entries: {n} problem(s)"),
}


class Message(str):
    """A message: its Chinese text as a ``str``, and its key and parameters to render it in another language."""

    key: str
    params: dict[str, Any]

    def __new__(cls, key: str, params: Mapping[str, Any] | None = None) -> "Message":
        """Make the message ``key`` with ``params``; KeyError for a key that is not in the catalogue."""
        params = dict(params or {})
        self = super().__new__(cls, _format(key, "zh", params))
        self.key = key
        self.params = params
        return self

    def render(self, lang: str) -> str:
        """The message in ``lang`` ('zh' or 'en'), as plain text."""
        return _format(self.key, lang, self.params)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.key, self.params))


def _format(key: str, lang: str, params: Mapping[str, Any]) -> str:
    zh, en = CATALOGUE[key]
    template = en if lang == "en" else zh
    return template.format(**{k: render(v, lang) if isinstance(v, Message) else v for k, v in params.items()})


def msg(key: str, /, **params: Any) -> Message:
    """The catalogue's message ``key`` with its parameters (a Message, Chinese as a str)."""
    return Message(key, params)


def join(messages: list[Any]) -> Any:
    """Several messages as one, separated by a semicolon (；in Chinese)."""
    out = messages[0]
    for m in messages[1:]:
        out = msg("join.semicolon", first=out, second=m)
    return out


def render(text: Any, lang: str) -> str:
    """Text in ``lang``: a Message rendered in it; anything else as it is (str())."""
    if isinstance(text, Message):
        return text.render(lang)
    return str(text)


def localise(obj: Any, lang: str) -> Any:
    """A copy of a JSON-like value (dicts, lists) with every Message rendered in ``lang`` as plain text."""
    if isinstance(obj, Message):
        return obj.render(lang)
    if isinstance(obj, dict):
        return {k: localise(v, lang) for k, v in obj.items()}
    if isinstance(obj, list):
        return [localise(v, lang) for v in obj]
    if isinstance(obj, tuple):
        return tuple(localise(v, lang) for v in obj)
    return obj


def default_lang(env: Mapping[str, str] | None = None) -> str:
    """The language the locale asks for: 'en' when LC_ALL (else LC_MESSAGES, else LANG) starts with 'en'; else 'zh'."""
    env = os.environ if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "en" if value.lower().startswith("en") else "zh"
    return "zh"


def resolve_lang(option: str | None, env: Mapping[str, str] | None = None) -> str:
    """``--lang`` if given ('zh' or 'en', case-insensitive; ValueError otherwise), else the locale's language."""
    if option is None:
        return default_lang(env)
    value = option.strip().lower()
    if value.startswith("zh") or value in ("cn", "中文"):
        return "zh"
    if value.startswith("en"):
        return "en"
    raise ValueError(msg("cli.bad_lang", value=option))
