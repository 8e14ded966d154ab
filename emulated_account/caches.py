"""What a process builds once instead of once per emulated account (or per moto mock).

Entering an account starts a fresh moto mock, which also drops boto3's default session, so
every client of every account would re-read and re-parse botocore's service models (several
megabytes of JSON for RDS, S3, Glue...), and every state machine created or executed would be
parsed again from its ASL text by moto's ANTLR parser. Neither input changes while the process
runs, so both are kept here, process-wide:

* botocore's data loader: one ``botocore.loaders.Loader`` per search path, shared by every
  session (the loader caches what it has read; botocore already shares it between the clients
  of one session, so sharing it between sessions adds no new sharing of mutable state);
* the ANTLR parse tree of each ASL definition text (the syntax step of
  ``AmazonStateLanguageParser.parse``). The evaluation program is still built afresh from the
  tree for every state machine and execution, as moto does, so no execution shares state with
  another; a definition with a syntax error is never kept and fails every time.

Moto's EC2 backend, which moto's RDS creates for its default VPC, would also load about 1,500
default AMIs for every account; the emulated account uses none (``MOTO_EC2_LOAD_DEFAULT_AMIS``).

Creating a state machine makes moto build the evaluation program of its definition only to
check it; a definition text that passed once passes again (the check is a function of the text
alone), so it is checked once per process. Every execution still builds its own program.

moto's KMS creates a 2,048-bit RSA private key with every key, symmetric ones too, though only
the asymmetric Sign and Verify use it: about 40 ms of CPU for each key of each account. The key
is now generated the first time it is used.

moto's Step Functions interpreter compiles each JSONPath of the definition (``$.job.x``) with
jsonpath_ng, which builds a new parser, tables and all, for every path it reads: a twelfth of a
run's CPU. A compiled path is an immutable expression tree; each text is compiled once.

Moto also lists the methods of a service's response class (``inspect.getmembers``) on every
request to find the action's handler, a tenth of the cost of a simple call. The list is kept
per class and computed again whenever an attribute of the class or of a base class is added,
removed or replaced by a value of another kind (the emulated account patches some while it runs).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

# moto reads it when an account's EC2 backend is created: no AMI is used by this application.
MOTO_ENVIRONMENT = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}

_lock = threading.Lock()
_loaders: dict[str | None, Any] = {}
_asl_trees: dict[str, Any] = {}


def shared_loader(search_path_string: str | None = None) -> Any:
    """``botocore.loaders.create_loader``, returning one loader per search path for the process."""
    from botocore import loaders

    with _lock:
        loader = _loaders.get(search_path_string)
        if loader is None:
            loader = _loaders[search_path_string] = loaders.create_loader(search_path_string)
        return loader


def parse_asl(definition: str) -> tuple[Any, Any]:
    """``AmazonStateLanguageParser.parse`` with the syntax tree of each definition text kept."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException, SyntaxErrorListener
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    tree = _asl_trees.get(definition)
    if tree is None:
        from antlr4 import CommonTokenStream, InputStream

        from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
        from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser

        # The same steps as AmazonStateLanguageParser.parse, up to the syntax tree.
        listener = SyntaxErrorListener()
        parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
        parser.removeErrorListeners()
        parser.addErrorListener(listener)
        tree = parser.state_machine()
        if listener.errors:
            raise ASLParserException(errors=listener.errors)
        _asl_trees[definition] = tree
    return Preprocessor().visit(tree), tree


_valid_definitions: set[str] = set()


@functools.lru_cache(maxsize=4096)
def jsonpath(path: str) -> Any:
    """``jsonpath_ng.ext.parse``, once per path text."""
    from jsonpath_ng.ext import parse

    return parse(path)


def _validate_definition_once(original: Any) -> Any:
    def validate(definition: str) -> None:
        if definition in _valid_definitions:
            return
        original(definition)  # raises InvalidDefinition for a definition moto refuses
        _valid_definitions.add(definition)

    return staticmethod(validate)


class _KeyOnFirstUse:
    """moto's private key of a KMS key, generated when first used (Sign, Verify, GetPublicKey)."""

    def __init__(self, key_spec: str, generate: Any) -> None:
        self._key_spec = key_spec
        self._generate = generate
        self._key: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._key is None:
                self._key = self._generate(self._key_spec)
        return getattr(self._key, name)


_method_names: dict[type, tuple[tuple[tuple[str, type], ...], list[str]]] = {}


def method_names_from_class(cls: type) -> list[str]:
    """``moto.core.utils.method_names_from_class``, kept until the class's attributes change."""
    from moto.core import utils

    # The list depends only on the names of the attributes of the class and its bases and on
    # what kind of value each is (a function or not); a counter moto keeps on a base class
    # changes its value with every request, never its kind.
    signature = tuple((name, type(value)) for klass in cls.__mro__ for name, value in vars(klass).items())
    found = _method_names.get(cls)
    if found is None or found[0] != signature:
        found = _method_names[cls] = (signature, utils.method_names_from_class(cls))
    return found[1]


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Use the process's shared loader, ASL trees, checked definitions and method lists, and KMS keys made on use."""
    import os

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch("botocore.session.create_loader", shared_loader))
        # Imported once the loader is shared: the import reaches moto's EC2 models, which build
        # sessions that read EC2's whole model (about 0.15 s of CPU each, four times).
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

        stack.enter_context(mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(parse_asl)))
        stack.enter_context(mock.patch("moto.core.responses.method_names_from_class", method_names_from_class))
        from moto.kms import models as kms_models
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        validate = vars(StepFunctionsParserBackend)["_validate_definition"].__func__
        stack.enter_context(mock.patch.object(StepFunctionsParserBackend, "_validate_definition", _validate_definition_once(validate)))
        stack.enter_context(mock.patch("moto.stepfunctions.parser.asl.utils.json_path.parse", jsonpath))
        generate = kms_models.generate_private_key
        stack.enter_context(mock.patch.object(kms_models, "generate_private_key", lambda key_spec: _KeyOnFirstUse(key_spec, generate)))
        stack.enter_context(mock.patch.dict(os.environ, MOTO_ENVIRONMENT))
        yield
