"""Load the configuration file once, and turn every problem into one clear message.

Each message names the file, the dotted path of the key and the bad value, e.g.
``config/environments.yaml: environments.prod.account: must be 12 digits, got '12ab'``.
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from config.dataset_spec import DatasetSpec
from config.model import ACCOUNT_RE, PlatformConfig
from config.monitoring import unmonitored_reason

REPO_ROOT = Path(__file__).resolve().parent.parent
M = TypeVar("M", bound=BaseModel)

DEFAULT_CONFIG_PATH = Path("config/environments.yaml")
#: Environment variable selecting another config file (the `-c config=...` CDK context wins over it).
CONFIG_ENV_VAR = "MLOPS_CONFIG"


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Mark] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            first = seen[key]
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r} (first defined on line {first.line + 1})",
                problem_mark=key_node.start_mark,
            )
        seen[key] = key_node.start_mark
    return dict(loader.construct_pairs(node, deep=deep))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def config_path_from(context_value: object | None, environ: Mapping[str, str]) -> Path:
    """The config file to use: ``-c config=...`` first, then ``$MLOPS_CONFIG``, then the default."""
    if context_value is not None:
        if not isinstance(context_value, str) or not context_value:
            raise ConfigError([f"-c config=...: must be a file path, got {context_value!r}"])
        return Path(context_value)
    if environ.get(CONFIG_ENV_VAR):
        return Path(environ[CONFIG_ENV_VAR])
    return DEFAULT_CONFIG_PATH


#: Byte-order marks of the encodings a text editor may save a file in instead of UTF-8 (UTF-32 before UTF-16:
#: the UTF-32-LE mark starts with the UTF-16-LE one).
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
SAVE_AS_UTF8 = (
    "save it as UTF-8 (e.g. `iconv -f {encoding} -t UTF-8 {path} > fixed.yaml`, or your editor's encoding menu)"
)


def decode_utf8(path: Path, data: bytes) -> str:
    """``data`` (read from ``path``) as text: UTF-8, with or without a byte-order mark; any other encoding is a
    :class:`ConfigError` naming the encoding or the first bad byte (offset, line, column) and how to convert it."""
    for bom, encoding in _FOREIGN_BOMS:
        if data.startswith(bom):
            fix = SAVE_AS_UTF8.format(encoding=encoding, path=path)
            raise ConfigError(
                [f"{path}: the file is {encoding}-encoded (it starts with a {encoding} byte-order mark); {fix}"]
            )
    if b"\x00" in data[:1024]:  # UTF-16/32 without a byte-order mark: every other byte of ASCII text is NUL
        offset = data.index(b"\x00")
        fix = SAVE_AS_UTF8.format(encoding="UTF-16", path=path)
        raise ConfigError(
            [f"{path}: byte {offset} is a NUL byte: this is not UTF-8 text (UTF-16 without a byte-order mark, or a "
             f"binary file); {fix}"]
        )  # fmt: skip
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start
        line = data.count(b"\n", 0, offset) + 1
        column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
        byte = data[offset : offset + 1].hex()
        why = (
            "the file looks Latin-1 (ISO-8859-1) or Windows-1252 encoded"
            if exc.reason.startswith("invalid")
            else "the file ends inside a UTF-8 character"
        )
        fix = SAVE_AS_UTF8.format(encoding="LATIN1", path=path)
        raise ConfigError(
            [f"{path}:{line}:{column}: byte 0x{byte} (offset {offset}) is not UTF-8: {why}; {fix}"]
        ) from None


def read_yaml(path: Path, what: str = "file") -> Any:
    """The YAML document in ``path`` (a config file or a dataset spec), read with duplicate keys refused; every
    problem (missing or unreadable file, encoding, syntax, empty document) is a :class:`ConfigError` naming the file
    (``what`` it is, for the message when it is missing)."""
    if path.is_dir():
        raise ConfigError([f"{path}: is a folder, expected a YAML {what}"])
    if not path.is_file():
        raise ConfigError([f"{path}: {what} not found"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the file: {exc.strerror}"]) from None
    text = decode_utf8(path, data)
    try:
        loaded = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - _UniqueKeyLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError([f"{where}: invalid YAML: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: invalid YAML: {exc}"]) from None
    if loaded is None:
        raise ConfigError([f"{path}: file is empty"])
    return loaded


def _dotted(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item.startswith("function-") or item in {"[key]"}:
            continue  # pydantic-internal validator segments
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names valid at ``loc`` (the parent of an unknown key), for 'did you mean'."""
    current: Any = model
    for item in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(item))
            if field is None:
                return []
            current = field.annotation
        else:  # dict[str, Model] (environments): the key is a name, the value the model
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _message(model: type[BaseModel], error: dict[str, Any]) -> str:
    kind, value, text = error["type"], error.get("input"), str(error["msg"])
    if kind == "extra_forbidden":
        known = _known_keys(model, tuple(error["loc"][:-1]))
        guess = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else f" (known keys: {', '.join(known)})" if known else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return text.removeprefix("Value error, ")
    type_names = {
        "string_type": "a string (quote it)",
        "bool_type": "true or false",
        "int_type": "a whole number",
        "dict_type": "a mapping of key: value",
        "model_type": "a mapping of key: value",
        "model_attributes_type": "a mapping of key: value",
    }
    if kind in type_names:
        return f"must be {type_names[kind]}, got {value!r} ({type(value).__name__})"
    return f"{text[0].lower()}{text[1:]}, got {value!r}"


def validate(model: type[M], data: Any, path: Path) -> M:
    """``model`` validated from ``data`` read from ``path``; every problem becomes one message."""
    if not isinstance(data, dict):
        keys = ", ".join(f"'{name}'" for name, f in model.model_fields.items() if f.is_required())
        raise ConfigError([f"{path}: must be a mapping with {keys}, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = _dotted(tuple(err["loc"]))
            problems.append(f"{path}: {where + ': ' if where else ''}{_message(model, dict(err))}")
        raise ConfigError(problems) from None


def parse_config(data: Any, path: Path) -> PlatformConfig:
    return validate(PlatformConfig, data, path)


def load_config(path: Path) -> PlatformConfig:
    """Read and validate one config file; raise :class:`ConfigError` with every problem found."""
    return parse_config(read_yaml(path, "config file"), path)


def _is_inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _sample_problems(sample_path: object, spec_path: Path, config_path: Path) -> list[str]:
    """Why the shipped sample named by ``sample_path`` cannot be the pipeline's default input (``[]`` if it can).

    Only plain repository-relative strings are checked here; the spec's schema reports any other value."""
    why = f"the default input while model_build.input_data_prefix is not set in {config_path}"
    if sample_path is None:
        return [
            f"{config_path}: model_build.input_data_prefix: required, as the dataset spec {spec_path} ships no "
            "sample (sample_path): set it to the prefix of the data bucket the cloud runs read, e.g. "
            "'datasets/<name>/' (a local run reads any file: make local-pipeline ARGS=\"--input path\"), or give "
            "the spec a sample_path inside the repository"
        ]
    if (
        not isinstance(sample_path, str)
        or not sample_path
        or sample_path.startswith("/")
        or ".." in sample_path.split("/")
    ):
        return []
    file = REPO_ROOT / sample_path
    if not file.is_file():
        return [f"{spec_path}: sample_path: file not found: {file} ({why})"]
    if not _is_inside(file, REPO_ROOT):
        return [
            f"{spec_path}: sample_path: {sample_path} leads outside the repository (to {file.resolve()}): the sample "
            "ships with the code (a CDK asset; the delivery pipeline builds from a clone, where the link leads "
            f"nowhere). Copy the file into the repository, or keep data elsewhere and run on it with "
            f'`make local-pipeline ARGS="--input {file.resolve()}"` (cloud: model_build.input_data_prefix)'
        ]
    return []


def _spec_location(reference: str, config_path: Path, has_delivery: bool) -> Path:
    """The spec file ``model_build.dataset_spec`` names: relative to the config file's folder (or absolute)."""
    path = config_path.parent / reference
    key = f"{config_path}: model_build.dataset_spec"
    if not path.is_file():
        where = "" if Path(reference).is_absolute() else f" (relative to {config_path.parent})"
        raise ConfigError([f"{key}: file not found: {path}{where}"])
    if has_delivery and _is_inside(config_path, REPO_ROOT) and not _is_inside(path, REPO_ROOT):
        raise ConfigError(
            [
                f"{key}: {path} is outside the repository ({REPO_ROOT}), but this config is in it and has a delivery "
                "section: the delivery pipeline synthesizes it from a clone of the repository, where that file does "
                "not exist. Move the spec into the repository (e.g. config/datasets/)"
            ]
        )
    return path


def _load_spec(reference: str, input_prefix: object, config_path: Path, has_delivery: bool) -> DatasetSpec:
    path = _spec_location(reference, config_path, has_delivery)
    data = read_yaml(path, "dataset spec")
    problems: list[str] = []
    spec = None
    try:
        spec = validate(DatasetSpec, data, path)
    except ConfigError as exc:
        problems += exc.problems
    if input_prefix is None:
        raw = data.get("sample_path") if isinstance(data, dict) else None
        problems += _sample_problems(spec.sample_path if spec else raw, path, config_path)
    if problems or spec is None:
        raise ConfigError(problems)
    return spec


def load_dataset_spec(config: PlatformConfig, config_path: Path) -> DatasetSpec:
    """The dataset spec named by ``model_build.dataset_spec`` (relative to the config file's folder).

    A spec may live outside the repository (an absolute path, or ``../``), except when the config is in the
    repository and has a delivery section: the delivery pipeline synthesizes from a clone. Its ``sample_path`` is
    repository-relative and must stay inside the repository (no symlink out of it): data elsewhere is given to a run
    (``--input``, ``model_build.input_data_prefix``), not shipped."""
    build = config.model_build
    return _load_spec(build.dataset_spec, build.input_data_prefix, config_path, config.delivery is not None)


def sample_data_path(spec: DatasetSpec) -> Path | None:
    """The shipped sample of ``spec`` (repository-relative in the spec), if it names one."""
    return None if spec.sample_path is None else REPO_ROOT / spec.sample_path


@dataclass(frozen=True)
class ResolvedAccount:
    account: str
    note: str | None  # set when the account came from the deploying credentials, not the file


def _resolve(configured: str | None, where: str, default_account: str | None) -> ResolvedAccount:
    if configured is not None:
        return ResolvedAccount(configured, None)
    if not default_account:
        raise ConfigError(
            [
                f"{where}: not set, and CDK_DEFAULT_ACCOUNT is empty (no AWS credentials?); "
                "set the account in the file or run with credentials"
            ]
        )
    if not ACCOUNT_RE.fullmatch(default_account):
        raise ConfigError([f"{where}: not set, and CDK_DEFAULT_ACCOUNT={default_account!r} is not 12 digits"])
    return ResolvedAccount(default_account, f"{where}: not set, using CDK_DEFAULT_ACCOUNT={default_account}")


def resolve_account(
    config: PlatformConfig, env_name: str | None, path: Path, default_account: str | None
) -> ResolvedAccount:
    """The account of an environment (``env_name``) or of the delivery pipelines (``None``); falls back to
    CDK_DEFAULT_ACCOUNT, loudly."""
    if env_name is None:
        if config.delivery is None:
            raise ValueError("the config has no delivery section")
        configured, key = config.delivery.account, "delivery.account"
    else:
        configured, key = config.environments[env_name].account, f"environments.{env_name}.account"
    return _resolve(configured, f"{path}: {key}", default_account)


@dataclass(frozen=True)
class LoadedConfig:
    """Everything the app needs from its configuration: the config, its dataset spec and every account."""

    config: PlatformConfig
    spec: DatasetSpec
    accounts: dict[str, str]  # environment name -> account id
    delivery_account: str | None  # None: no delivery section
    notes: tuple[str, ...]  # accounts that came from CDK_DEFAULT_ACCOUNT; serving environments not monitored


def _section(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _raw_accounts(data: Any) -> dict[str, object]:
    """``environments.<name>.account`` and ``delivery.account`` as written (None when missing), by key path."""
    accounts = {
        f"environments.{name}.account": env.get("account")
        for name, env in _section(data, "environments").items()
        if isinstance(env, dict)
    }
    if isinstance(data, dict) and isinstance(data.get("delivery"), dict):
        accounts["delivery.account"] = data["delivery"].get("account")
    return accounts


def load_everything(path: Path, default_account: str | None) -> LoadedConfig:
    """The config in ``path``, its dataset spec and every account, or one :class:`ConfigError` listing the problems
    of all three: a bad config does not hide a bad spec or a missing account (only a file that cannot be read as
    YAML stops everything)."""
    data = read_yaml(path, "config file")
    problems: list[str] = []
    config = spec = None
    try:
        config = parse_config(data, path)
    except ConfigError as exc:
        problems += exc.problems
    build = config.model_build.model_dump() if config else _section(data, "model_build")
    has_delivery = config.delivery is not None if config else bool(_section(data, "delivery"))
    if isinstance(build.get("dataset_spec"), str) and build["dataset_spec"]:
        try:
            spec = _load_spec(build["dataset_spec"], build.get("input_data_prefix"), path, has_delivery)
        except ConfigError as exc:
            problems += exc.problems
    resolved: dict[str, ResolvedAccount] = {}
    for key, configured in _raw_accounts(data).items():
        if configured is None or config is not None:
            try:
                resolved[key] = _resolve(
                    configured if isinstance(configured, str) else None, f"{path}: {key}", default_account
                )
            except ConfigError as exc:
                problems += exc.problems
    if problems or config is None or spec is None:
        raise ConfigError(problems)
    return LoadedConfig(
        config=config,
        spec=spec,
        accounts={name: resolved[f"environments.{name}.account"].account for name in config.environments},
        delivery_account=resolved["delivery.account"].account if config.delivery is not None else None,
        notes=(
            *(r.note for r in resolved.values() if r.note),
            *(
                f"{path}: environments.{name} serves but is not monitored: {reason}"
                for name, env in config.environments.items()
                if (reason := unmonitored_reason(env.serving, env.monitoring)) is not None
            ),
        ),
    )
