"""The verdict on one pip-audit JSON report: bin/audit-deps prints it and fails only on "vulnerable".

Usage: audit_report.py REQUIREMENTS_FILE PIP_AUDIT_EXIT_CODE REPORT_JSON. Prints one line that starts with
vulnerable, unreachable, partial or clean. A package pip-audit could not look up carries a "skip_reason" in
its report: that package was not audited, whatever pip-audit's exit code and summary say."""

import json
import sys

file, code, report = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    with open(report) as opened:
        dependencies = json.load(opened)["dependencies"]
except (OSError, ValueError, KeyError, TypeError):
    print(f"unreachable pip-audit gave no report (exit {code})")
    sys.exit()
found = [
    (d["name"], d["version"], v["id"], ",".join(v.get("fix_versions", [])) or "none")
    for d in dependencies
    for v in d.get("vulns", [])
]
skipped = [d["name"] for d in dependencies if d.get("skip_reason")]
audited = len(dependencies) - len(skipped)
if found:
    print(f"vulnerable {file}: " + "; ".join(f"{n} {ver}: {vid} (fixed in {fix})" for n, ver, vid, fix in found))
elif dependencies and not audited:
    print(f"unreachable no package of {file} could be looked up")
elif skipped:
    print(f"partial {file}: {audited} packages have no known vulnerabilities; NOT audited: {', '.join(skipped)}")
else:
    print(f"clean {file}: {audited} packages, no known vulnerabilities (source: PyPI)")
