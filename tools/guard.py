"""Check the templates against AWS Control Tower's proactive controls with AWS's cfn-guard.

The controls are the CloudFormation Guard rules that Control Tower runs in a CloudFormation
Hook when an organization turns them on; AWS publishes them, with the ``cfn-guard`` binary,
in the npm package ``@cdklabs/cdk-validator-cfnguard`` (pinned below, installed under
``.guard/``). Beside them run the AWS Guard Rules Registry's rules, kept in
``tools/guard-rules-registry/`` at a pinned commit (no package registry ships them; see its
README). More rule sets (an organization's own) are added with ``--rules``.

What is checked is what the Hook sees: each template is translated (the SAM transform of
``tools.sam_translate``) and resolved (``tools.cfn_resolve``) for every parameter set of
``SCENARIOS``: resources whose condition is false are absent, intrinsic functions are values.
A rule that passes only on an unresolved ``Fn::If`` would prove nothing, and one that fails on
it would fail a template the Hook accepts.

A finding that is right as it is carries, in its resource's ``Metadata``, the suppression
convention of the Guard Rules Registry (whose rules honour it themselves) and its reason::

    Metadata:
      guard:
        SuppressedRules: [lambda_inside_vpc_check]
        SuppressionReasons:
          lambda_inside_vpc_check: The functions call only AWS APIs ...

The check fails (exit 1) on any finding not suppressed, any suppression without a reason (or
reason without a suppression), any suppression of a rule that was evaluated and found nothing
to suppress, and any run of cfn-guard that does not end as a validation does (exit 0 or 19
with a report for every data file): a rule file that does not parse, data it cannot read.

Usage: ``python -m tools.guard [--rules PATH ...] [--without-registry] TEMPLATE ...`` (installs on first use);
``python -m tools.guard --install`` only installs.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.cfn_resolve import Resolver
from tools.iam_reference import ACCOUNT, PARAMETERS, REGION, SOURCE_ACCOUNT_PARAMETERS, physical_names
from tools.sam_translate import REPO_ROOT, translate

# The npm package that ships AWS's cfn-guard binary and the Control Tower proactive controls.
# Its tarball is checked against the registry's integrity digest of this exact version.
PACKAGE = "@cdklabs/cdk-validator-cfnguard"
PACKAGE_VERSION = "0.0.62"
PACKAGE_INTEGRITY = "sha512-Sg2k8067B0AIJ82QFSLhHTUIqxOYTKABvVrTHiyc6j0rE2NHli2diIYqf+w+DkuDKCYYgMIOga3OrYMOHUw0mQ=="
# The cfn-guard release the package bundles (its guard-version.json).
CFN_GUARD_VERSION = "3.1.1"
GUARD_DIR = REPO_ROOT / ".guard"
INSTALL_DIR = GUARD_DIR / f"cdk-validator-cfnguard-{PACKAGE_VERSION}"
CONTROL_TOWER_RULES = INSTALL_DIR / "rules" / "control-tower" / "cfn-guard"
# The AWS Guard Rules Registry's rule files, unchanged, at this commit of its main branch.
REGISTRY_COMMIT = "7f7340c26ae5d5e8874651dbffeb12e0e9f505b6"
REGISTRY_RULES = REPO_ROOT / "tools" / "guard-rules-registry" / "rules"

# cfn-guard validate's exit codes (guard/src/commands/mod.rs): 0 every rule passed or was
# skipped, 19 at least one failed. Anything else (5: a rule file did not parse, with a report
# that reads SKIP; 255: data it could not read) is an error, never a result.
GUARD_PASS, GUARD_FAIL = 0, 19

SUPPRESSED_RULES_KEY = "SuppressedRules"
REASONS_KEY = "SuppressionReasons"
RULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
CONTROL_ID = re.compile(r"\[(CT\.[A-Z0-9]+\.PR\.[0-9]+)\]")
FIX = re.compile(r"\[FIX\]:\s*(.+)")

LAKE_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
# The parameter sets each template is checked with: its defaults, everything it can turn on,
# and the options that replace a resource by an existing one. A template not listed here is
# checked with its defaults.
SCENARIOS: dict[str, dict[str, dict[str, str]]] = {
    "template.yaml": {
        "defaults": {"AllowedClusterIdentifiers": "orders-prod"},
        "everything on": {
            **PARAMETERS,
            "ScheduleClusterIdentifier": "billing",
            "AlarmNotificationEmail": "oncall@example.com",
            "AlarmOnPartialExport": "true",
            "PermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/org/Boundary",
            "CreateLakeFormationGrants": "true",
            "LakeFormationReaderArn": f"arn:aws:iam::{ACCOUNT}:role/analysts",
            "FunctionSubnetIds": "subnet-0a1b2c3d4e5f60718,subnet-0b1c2d3e4f5a60718",
            "FunctionSecurityGroupIds": "sg-0a1b2c3d4e5f60718",
        },
        # Outside a VPC, with the triggers on: the trigger router (a function only triggers create) is checked too.
        "existing bucket and key": {
            "AllowedClusterIdentifiers": "orders-prod",
            "EnableSnapshotEventTrigger": "true",
            "ExistingExportBucketName": "org-data-lake",
            "ExistingKmsKeyArn": LAKE_KEY_ARN,
        },
    },
    "source-account.yaml": {
        "events forwarded": SOURCE_ACCOUNT_PARAMETERS,
        "events not forwarded": {**SOURCE_ACCOUNT_PARAMETERS, "ForwardEvents": "false",
                                 "PermissionsBoundaryArn": "arn:aws:iam::111111111111:policy/org/Boundary"},
    },
}


class GuardError(RuntimeError):
    """cfn-guard could not be installed or did not run to a result."""


# --- install -----------------------------------------------------------------------------


def binary_path(install_dir: Path = INSTALL_DIR) -> Path:
    """The package's cfn-guard for this machine."""
    system = {"Linux": "ubuntu", "Darwin": "macos"}.get(platform.system())
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(platform.machine().lower())
    if system is None or machine is None:
        raise GuardError(f"{PACKAGE} ships cfn-guard for Linux and macOS on x86_64 and arm64, not {platform.system()} {platform.machine()}")
    return install_dir / "bin" / system / machine / "cfn-guard"


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def installed() -> bool:
    return (INSTALL_DIR / ".installed").is_file() and binary_path().is_file()


def install() -> Path:
    """Install the pinned package under .guard/ (npm registry); a no-op when it is there.

    One process installs at a time (a lock file): test workers that need cfn-guard at once wait
    for the first one's install instead of unpacking over it."""
    if installed():
        return binary_path()
    GUARD_DIR.mkdir(exist_ok=True)
    with open(GUARD_DIR / ".install.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed():
            return binary_path()
        return _install()


def _install() -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise GuardError(f"npm is needed once to install {PACKAGE}@{PACKAGE_VERSION} (Debian: apt-get install npm)")
    GUARD_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=GUARD_DIR) as scratch:
        done = subprocess.run([npm, "pack", "--silent", f"{PACKAGE}@{PACKAGE_VERSION}", "--pack-destination", scratch],
                              capture_output=True, text=True, check=False)
        tarballs = list(Path(scratch).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise GuardError(f"npm pack {PACKAGE}@{PACKAGE_VERSION} failed: {done.stderr.strip() or done.stdout.strip()}")
        if _integrity(tarballs[0]) != PACKAGE_INTEGRITY:
            raise GuardError(f"{tarballs[0].name} does not match the pinned integrity {PACKAGE_INTEGRITY}")
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(tarballs[0]) as archive:
            archive.extractall(unpacked, filter="data")
        shutil.rmtree(INSTALL_DIR, ignore_errors=True)
        (unpacked / "package").rename(INSTALL_DIR)
    bundled = json.loads((INSTALL_DIR / "guard-version.json").read_text())["version"]
    version = subprocess.run([str(binary_path()), "--version"], capture_output=True, text=True, check=False).stdout.split()
    if bundled != CFN_GUARD_VERSION or version[-1:] != [CFN_GUARD_VERSION]:
        raise GuardError(f"{PACKAGE}@{PACKAGE_VERSION} bundles cfn-guard {bundled} ({' '.join(version)}), expected {CFN_GUARD_VERSION}")
    (INSTALL_DIR / ".installed").write_text(f"{PACKAGE}@{PACKAGE_VERSION} cfn-guard {CFN_GUARD_VERSION}\n")
    return binary_path()


# --- the documents cfn-guard reads ---------------------------------------------------------


def resolved_document(cfn: Mapping[str, Any], parameters: Mapping[str, str], stack_name: str = "aurora-lake") -> dict[str, Any]:
    """The template as the Hook sees its resources: created ones only, properties resolved.

    Number parameters stay numbers (``RetentionInDays: 365``), as CloudFormation passes them
    to the resource; Metadata is kept as written (it holds the suppressions).
    """
    numbers = {name for name, spec in (cfn.get("Parameters") or {}).items() if spec.get("Type") == "Number"}
    resolver = _NumberResolver(cfn, parameters, numbers, physical=physical_names(cfn), stack_name=stack_name)
    resources: dict[str, Any] = {}
    for name, resource in cfn.get("Resources", {}).items():
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        entry: dict[str, Any] = {"Type": resource["Type"]}
        if "Metadata" in resource:
            entry["Metadata"] = resource["Metadata"]
        if "Properties" in resource:
            entry["Properties"] = resolver.resolve(resource["Properties"])
        resources[name] = entry
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


class _NumberResolver(Resolver):
    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str], numbers: set[str], **kwargs: Any) -> None:
        super().__init__(template, parameters, **kwargs)
        self._numbers = numbers

    def ref(self, name: str) -> Any:
        value = super().ref(name)
        if name in self._numbers and isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
            return int(value)
        return value


def _without_suppressions(document: dict[str, Any]) -> dict[str, Any]:
    """What cfn-guard reads: rules that honour Metadata.guard themselves (the registry's) must
    report every finding, so that this check applies every suppression and sees the stale ones."""
    resources = {}
    for name, resource in document["Resources"].items():
        metadata = {key: value for key, value in (resource.get("Metadata") or {}).items() if key != "guard"}
        resources[name] = {**{k: v for k, v in resource.items() if k != "Metadata"}, **({"Metadata": metadata} if metadata else {})}
    return {**document, "Resources": resources}


def scenarios_for(template: Path) -> dict[str, dict[str, str]]:
    return SCENARIOS.get(template.name, {"defaults": {}})


# --- suppressions ------------------------------------------------------------------------


def suppressions(resource: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(suppressed rule names, reasons) of one resource's Metadata."""
    guard = (resource.get("Metadata") or {}).get("guard") or {}
    return list(guard.get(SUPPRESSED_RULES_KEY) or []), dict(guard.get(REASONS_KEY) or {})


def suppression_problems(template: Mapping[str, Any]) -> list[str]:
    """Every suppression names a rule and has a reason; every reason belongs to a suppression."""
    problems = []
    for name, resource in template.get("Resources", {}).items():
        rules, reasons = suppressions(resource)
        for rule in rules:
            if not isinstance(rule, str) or not RULE_NAME.match(rule):
                problems.append(f"{name}: Metadata.guard.{SUPPRESSED_RULES_KEY} holds {rule!r}, not a rule name")
            elif not isinstance(reasons.get(rule), str) or len(reasons[rule].split()) < 5:
                problems.append(f"{name}: suppression of {rule} has no reason (Metadata.guard.{REASONS_KEY}.{rule})")
        for rule in reasons:
            if rule not in rules:
                problems.append(f"{name}: Metadata.guard.{REASONS_KEY} gives a reason for {rule}, which is not suppressed")
        if len(set(map(str, rules))) != len(rules):
            problems.append(f"{name}: Metadata.guard.{SUPPRESSED_RULES_KEY} names a rule twice")
    return problems


# --- reading cfn-guard's report ------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    template: str
    scenario: str
    rule: str
    resource: str
    control: str
    message: str


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    evaluated_rules: set[str] = field(default_factory=set)
    summaries: list[str] = field(default_factory=list)
    unevaluated_suppressions: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.findings and not self.problems


def _paths(node: Any) -> Iterator[str]:
    """Paths of the values a failed rule looked at (not of what it compared them with)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "path" and isinstance(value, str):
                yield value
            elif key != "to":
                yield from _paths(value)
    elif isinstance(node, list):
        for item in node:
            yield from _paths(item)


def _messages(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "custom_message" and isinstance(value, str) and value.strip():
                yield value
            else:
                yield from _messages(value)
    elif isinstance(node, list):
        for item in node:
            yield from _messages(item)


def _rule_names(entries: Sequence[Any]) -> Iterator[str]:
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            rule = entry.get("Rule", entry)
            if isinstance(rule, dict) and isinstance(rule.get("name"), str):
                yield rule["name"]


def failed_rules(file_report: Mapping[str, Any]) -> Iterator[tuple[str, set[str], str, str]]:
    """(rule name, resources, control id, message) of each failed rule of one data file."""
    for entry in file_report.get("not_compliant") or []:
        rule = entry.get("Rule", entry)
        messages = list(_messages(rule))
        control = next((m.group(1) for text in messages if (m := CONTROL_ID.search(text))), "")
        fix = next((m.group(1).strip() for text in messages if (m := FIX.search(text))), "")
        first = next((line.strip() for text in messages for line in text.splitlines() if line.strip()), "")
        resources = {path.split("/")[2] for path in _paths(rule) if path.startswith("/Resources/") and len(path.split("/")) > 2}
        yield rule.get("name", "?"), resources, control, fix or first


def run_cfn_guard(binary: Path, rules: Sequence[Path], data: Sequence[Path]) -> list[dict[str, Any]]:
    """cfn-guard's structured report for every data file (one process each, in parallel), or GuardError."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(data), os.cpu_count() or 1))) as pool:
        return [report for reports in pool.map(lambda path: _run_cfn_guard(binary, rules, [path]), data) for report in reports]


def _run_cfn_guard(binary: Path, rules: Sequence[Path], data: Sequence[Path]) -> list[dict[str, Any]]:
    command = [str(binary), "validate", "--output-format", "json", "--structured", "--show-summary", "none"]
    for path in rules:
        command += ["--rules", str(path)]
    for path in data:
        command += ["--data", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (GUARD_PASS, GUARD_FAIL):
        raise GuardError(f"cfn-guard exited {done.returncode}: {(done.stderr or done.stdout).strip()[:2000]}")
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise GuardError(f"cfn-guard's report is not JSON ({error}): {done.stdout[:500]}") from error
    by_name = {str(Path(r.get("name", ""))): r for r in reports if isinstance(r, dict)}
    missing = [str(path) for path in data if str(path) not in by_name]
    if missing:
        raise GuardError(f"cfn-guard reported nothing for {', '.join(missing)}")
    failed = any(r.get("not_compliant") for r in by_name.values())
    if failed != (done.returncode == GUARD_FAIL):
        raise GuardError(f"cfn-guard exited {done.returncode} but its report {'has' if failed else 'has no'} failed rule")
    return [by_name[str(path)] for path in data]


# --- the check ---------------------------------------------------------------------------


def check(templates: Sequence[str | Path], extra_rules: Sequence[str | Path] = (), workdir: Path | None = None,
          registry: bool = True) -> Report:
    """Every template, every scenario, every rule set: what failed, what is suppressed and why.

    ``registry=False`` leaves the Guard Rules Registry out (for checks of the controls alone)."""
    binary = install()
    rules = [CONTROL_TOWER_RULES, *([REGISTRY_RULES] if registry else []), *(Path(path) for path in extra_rules)]
    for path in rules:
        if not path.exists():
            raise GuardError(f"rules {path} do not exist")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="work-", dir=_scratch_root()) as scratch:
            return _check(binary, [Path(t) for t in templates], rules, Path(scratch))
    workdir.mkdir(parents=True, exist_ok=True)
    return _check(binary, [Path(t) for t in templates], rules, workdir)


def _check(binary: Path, templates: list[Path], rules: list[Path], work: Path) -> Report:
    report = Report()
    data: list[tuple[str, str, Path, dict[str, Any]]] = []
    for template in templates:
        cfn = translate(template)
        report.problems += [f"{template.name}: {problem}" for problem in suppression_problems(cfn)]
        for index, (scenario, parameters) in enumerate(scenarios_for(template).items()):
            document = resolved_document(cfn, parameters)
            path = work / f"{template.stem}.{index}.json"
            path.write_text(json.dumps(_without_suppressions(document), indent=1), encoding="utf-8")
            data.append((template.name, scenario, path, document))
    file_reports = run_cfn_guard(binary, rules, [path for _, _, path, _ in data])

    used: dict[tuple[str, str, str], bool] = {}  # (template, resource, rule) -> suppressed something
    for (template_name, scenario, _, document), file_report in zip(data, file_reports, strict=True):
        resources = document["Resources"]
        for resource_name, resource in resources.items():
            for rule in suppressions(resource)[0]:
                used.setdefault((template_name, resource_name, rule), False)
        evaluated = set(_rule_names(file_report.get("compliant") or [])) | set(_rule_names(file_report.get("not_applicable") or []))
        failed = list(failed_rules(file_report))
        evaluated |= {rule for rule, *_ in failed}
        report.evaluated_rules |= evaluated
        open_count = suppressed_count = 0
        for rule, names, control, message in failed:
            if not names:
                # A rule that fails on a whole document names no resource: it is explained only by
                # the resources of the document that suppress it.
                names = {name for name, resource in resources.items() if rule in suppressions(resource)[0]}
                if not names:
                    report.problems.append(f"{template_name} [{scenario}]: {control or rule} failed on no resource the report names: {message}")
                    continue
            for name in sorted(names):
                finding = Finding(template_name, scenario, rule, name, control, message)
                if name in resources and rule in suppressions(resources[name])[0]:
                    used[(template_name, name, rule)] = True
                    report.suppressed.append(finding)
                    suppressed_count += 1
                else:
                    report.findings.append(finding)
                    open_count += 1
        report.summaries.append(
            f"{template_name} [{scenario}]: {len(evaluated)} rules, {len(failed)} failed on "
            f"{suppressed_count + open_count} resource(s): {suppressed_count} suppressed, {open_count} not")
    for (template_name, resource_name, rule), did_suppress in sorted(used.items()):
        if rule not in report.evaluated_rules:
            report.unevaluated_suppressions.add(rule)
        elif not did_suppress:
            report.problems.append(f"{template_name}: {resource_name} suppresses {rule}, which found nothing there in any scenario")
    return report


def _scratch_root() -> Path:
    GUARD_DIR.mkdir(exist_ok=True)
    return GUARD_DIR


def render(report: Report) -> tuple[list[str], list[str]]:
    """(stdout lines, stderr lines)."""
    out = [f"guard: {PACKAGE}@{PACKAGE_VERSION} (cfn-guard {CFN_GUARD_VERSION}) and the AWS Guard Rules Registry at "
           f"{REGISTRY_COMMIT[:7]}: {len(report.evaluated_rules)} rules"]
    out += [f"guard: {line}" for line in report.summaries]
    grouped: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for finding in report.suppressed:
        grouped[(finding.template, finding.control or finding.rule, finding.rule)].add(finding.resource)
    out += [f"guard: suppressed {control} ({rule}) in {template}: {', '.join(sorted(names))}"
            for (template, control, rule), names in sorted(grouped.items())]
    if report.unevaluated_suppressions:
        out.append("guard: suppressions of rules these rule sets do not have (not checked here): "
                   + ", ".join(sorted(report.unevaluated_suppressions)))
    failing: dict[tuple[str, str, str, str], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for finding in report.findings:
        resources, scenarios = failing[(finding.template, finding.control or finding.rule, finding.rule, finding.message)]
        resources.add(finding.resource)
        scenarios.add(finding.scenario)
    err = [f"guard: {template}: {control} ({rule}) fails on {', '.join(sorted(resources))} "
           f"[{', '.join(sorted(scenarios))}]: {message}"
           for (template, control, rule, message), (resources, scenarios) in sorted(failing.items())]
    err += [f"guard: {problem}" for problem in report.problems]
    if report.ok:
        out.append("guard: no unexplained finding")
    else:
        err.append(f"guard: {len(report.findings)} finding(s) not suppressed, {len(report.problems)} other problem(s)")
    return out, err


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("templates", nargs="*", metavar="template")
    parser.add_argument("--rules", action="append", default=[], metavar="PATH",
                        help="more cfn-guard rule files or directories (e.g. an organization's own rules)")
    parser.add_argument("--without-registry", action="store_true",
                        help="run the Control Tower controls without the Guard Rules Registry's rules")
    parser.add_argument("--install", action="store_true", help=f"only install {PACKAGE}@{PACKAGE_VERSION} under .guard/")
    args = parser.parse_args(argv)
    try:
        if args.install or not args.templates:
            print(f"guard: cfn-guard at {install()}")
            return 0
        report = check(args.templates, args.rules, registry=not args.without_registry)
    except GuardError as error:
        print(f"guard: {error}", file=sys.stderr)
        return 1
    out, err = render(report)
    for line in out:
        print(line)
    for line in err:
        print(line, file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
