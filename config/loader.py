"""Load the configuration file once, and turn every problem into one clear message.

Each message names the file, the dotted path of the key and the bad value, e.g.
``config/environments.yaml: environments.prod.account: must be 12 digits, got '12ab'``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from config.dataset_spec import DatasetSpec
from config.model import ACCOUNT_RE, PlatformConfig

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


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError([f"{path}: config file not found"])
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - _UniqueKeyLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError([f"{where}: invalid YAML: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: invalid YAML: {exc}"]) from None
    if data is None:
        raise ConfigError([f"{path}: file is empty"])
    return data


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
    return parse_config(read_yaml(path), path)


def load_dataset_spec(config: PlatformConfig, config_path: Path) -> DatasetSpec:
    """The dataset spec named by ``model_build.dataset_spec`` (relative to the config file's folder)."""
    path = config_path.parent / config.model_build.dataset_spec
    if not path.is_file():
        raise ConfigError(
            [f"{config_path}: model_build.dataset_spec: file not found: {path} (relative to {config_path.parent})"]
        )
    spec = validate(DatasetSpec, read_yaml(path), path)
    if config.model_build.input_data_prefix is None:
        why = f"the default input while model_build.input_data_prefix is not set in {config_path}"
        if spec.sample_path is None:
            raise ConfigError([f"{path}: sample_path: required key is missing ({why})"])
        if not (REPO_ROOT / spec.sample_path).is_file():
            raise ConfigError([f"{path}: sample_path: file not found: {REPO_ROOT / spec.sample_path} ({why})"])
    return spec


def sample_data_path(spec: DatasetSpec) -> Path | None:
    """The shipped sample of ``spec`` (repository-relative in the spec), if it names one."""
    return None if spec.sample_path is None else REPO_ROOT / spec.sample_path


@dataclass(frozen=True)
class ResolvedAccount:
    account: str
    note: str | None  # set when the account came from the deploying credentials, not the file


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
    if configured is not None:
        return ResolvedAccount(configured, None)
    where = f"{path}: {key}"
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
