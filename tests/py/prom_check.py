"""Strict check of the Prometheus text exposition format (0.0.4) for gaitfed's
/metrics, written from the format's specification (no client library):
every line is a HELP, a TYPE or a sample; every sample belongs to a family
declared by one TYPE before it (summary samples as <name>_sum / <name>_count);
label values are quoted and escaped; values are floats, NaN or ±Inf; no
family or (name, labels) pair twice.

usage: prom_check.py FILE [name=value ...]   (checks that each named sample,
       labels included as written, has the given value, or >=value with '>=')
"""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\\n])*"'
VALUE = r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|NaN|Inf)"
SAMPLE = re.compile(rf"^({NAME})(\{{{LABEL}(?:,{LABEL})*\}})? ({VALUE})(?: -?\d+)?$")
HELP = re.compile(rf"^# HELP ({NAME}) (.*)$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    assert text.endswith("\n"), "the exposition ends with a newline"
    types, seen, values = {}, set(), {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if m := HELP.match(line):
            continue
        if m := TYPE.match(line):
            assert m.group(1) not in types, f"line {n}: TYPE of {m.group(1)} twice"
            types[m.group(1)] = m.group(2)
            continue
        assert not line.startswith("#"), f"line {n}: unknown comment {line!r}"
        m = SAMPLE.match(line)
        assert m, f"line {n}: not a sample: {line!r}"
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        fam = name
        if fam not in types:
            for suf in ("_sum", "_count", "_bucket"):
                if name.endswith(suf) and name[: -len(suf)] in types:
                    fam = name[: -len(suf)]
        assert fam in types, f"line {n}: {name} has no TYPE before it"
        if types[fam] == "counter":
            assert float(value) >= 0, f"line {n}: negative counter"
        key = name + labels
        assert key not in seen, f"line {n}: {key} twice"
        seen.add(key)
        values[key] = float(value)
    for want in sys.argv[2:]:
        key, _, v = want.rpartition("=")
        ge = key.endswith(">")
        key = key.rstrip(">")
        assert key in values, f"{key} missing"
        ok = values[key] >= float(v) if ge else values[key] == float(v)
        assert ok, f"{key} = {values[key]}, expected {'>=' if ge else ''}{v}"
    print(f"ok: {len(types)} families, {len(seen)} samples")


main()
