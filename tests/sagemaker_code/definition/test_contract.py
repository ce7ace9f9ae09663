"""The definition and the step code agree: what the definition passes is what the steps take by default, and every
value the definition reads from a step's file is in the file that step writes.

The definition is the shipped config's dev pipeline, as the app builds it (from the app's definition cache).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import DEFINITION_CACHE
from config.loader import DEFAULT_CONFIG_PATH, load_config, load_dataset_spec
from sagemaker_code.definition.cache import DefinitionBuilds
from sagemaker_code.definition.settings import hyperparameter_table, pipeline_settings
from sagemaker_code.steps import contract, evaluate, preprocess, train
from tests.step_fixtures import PipelineRun

#: The step module a processing step runs -> its argument parser.
PARSERS = {contract.PREPROCESS_MODULE: preprocess.build_parser, contract.EVALUATE_MODULE: evaluate.build_parser}


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    config = load_config(DEFAULT_CONFIG_PATH)
    settings = pipeline_settings(config, "dev", load_dataset_spec(config, DEFAULT_CONFIG_PATH))
    built: dict[str, Any] = json.loads(DefinitionBuilds.start([settings], DEFINITION_CACHE).get(settings.pipeline_name))
    return built


def all_steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from all_steps(step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"])


def steps_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["Name"]: step for step in all_steps(definition["Steps"])}


def concrete(value: object, defaults: dict[str, object]) -> str:
    """A container argument as the job sees it: a ``Parameters.<name>`` reference becomes the parameter's default."""
    if isinstance(value, str):
        return value
    assert isinstance(value, dict), value
    (reference,) = value["Std:Join"]["Values"]
    return str(defaults[reference["Get"].removeprefix("Parameters.")])


def path_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {action.option_strings[0]: action for action in parser._actions if action.type is Path}


@pytest.mark.parametrize("step_name", [contract.PREPROCESS_STEP, contract.EVALUATE_STEP])
def test_every_path_argument_of_a_processing_step_defaults_to_what_the_definition_passes(
    definition: dict[str, Any], step_name: str
) -> None:
    step = steps_by_name(definition)[step_name]["Arguments"]
    module = step["AppSpecification"]["ContainerEntrypoint"][-1]
    parser = PARSERS[module]()
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    argv = [concrete(value, defaults) for value in step["AppSpecification"]["ContainerArguments"]]
    parser.parse_args(argv)  # the step takes every argument the definition passes
    passed = dict(zip(argv[::2], argv[1::2], strict=True))
    options = path_options(parser)
    assert options, module
    for option, action in options.items():
        assert option in passed, f"{module}: the definition does not pass {option}"
        assert Path(passed[option]) == action.default, f"{module} {option}: default {action.default}"
    # ... and those paths are where the job's inputs land and its outputs are collected
    local = {i["InputName"]: i["S3Input"]["LocalPath"] for i in step["ProcessingInputs"]}
    assert local.pop(contract.CODE_INPUT) == contract.processing_input(contract.CODE_INPUT)
    for name, path in local.items():
        assert path in passed.values(), f"{step_name}: input {name} at {path} is not an argument"
    for output in step["ProcessingOutputConfig"]["Outputs"]:
        assert output["S3Output"]["LocalPath"] == f"{passed['--output']}/{output['OutputName']}"


def test_preprocess_writes_one_train_file_per_training_instance(definition: dict[str, Any]) -> None:
    """The train channel is sharded by S3 key: it spreads over the instances only when there are as many files."""
    steps = steps_by_name(definition)
    arguments = steps[contract.PREPROCESS_STEP]["Arguments"]["AppSpecification"]["ContainerArguments"]
    parts = arguments[arguments.index("--train-parts") + 1]
    assert parts == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.TrainingInstanceCount"}]}}
    training = steps[contract.TRAIN_STEP]["Arguments"]
    assert training["ResourceConfig"]["InstanceCount"] == {"Get": "Parameters.TrainingInstanceCount"}
    (train_channel,) = [c for c in training["InputDataConfig"] if c["ChannelName"] == contract.SHARDED_TRAINING_INPUT]
    assert train_channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"


def test_the_training_step_takes_the_channels_and_hyperparameters_the_definition_gives(
    definition: dict[str, Any], hyperparameter_table_path: Path
) -> None:
    step = steps_by_name(definition)[contract.TRAIN_STEP]["Arguments"]
    channels = [channel["ChannelName"] for channel in step["InputDataConfig"]]
    assert channels == list(contract.TRAINING_INPUTS)
    # without SM_* variables the step falls back to where SageMaker puts channels and collects the model
    args, hp = train.parse_args(["--hyperparameter-table", str(hyperparameter_table_path)], {})
    for channel in channels:
        assert getattr(args, channel) == Path(contract.TRAINING_CHANNELS) / channel
    assert args.model_dir == Path(contract.MODEL_DIR)
    given = {name for name in step["HyperParameters"] if not name.startswith("sagemaker_")}
    assert given == {*hp, contract.BIAS_MITIGATION_HYPERPARAMETER}
    assert set(hp) == {row.name for row in hyperparameter_table()}
    assert step["HyperParameters"]["sagemaker_program"] == contract.TRAIN_PROGRAM
    # the bias mitigation: the pipeline parameter's values are the training step's choices
    mitigation = step["HyperParameters"][contract.BIAS_MITIGATION_HYPERPARAMETER]
    assert mitigation == {"Get": "Parameters.BiasMitigation"}
    (parameter,) = [p for p in definition["Parameters"] if p["Name"] == "BiasMitigation"]
    assert parameter["EnumValues"] == list(contract.BIAS_MITIGATIONS)
    assert args.bias_mitigation == contract.NO_MITIGATION


def test_every_hyperparameter_is_a_parameter_with_the_tables_type(definition: dict[str, Any]) -> None:
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    hyperparameters = steps_by_name(definition)[contract.TRAIN_STEP]["Arguments"]["HyperParameters"]
    for row in hyperparameter_table():
        name = "".join(part.capitalize() for part in row.name.split("_"))
        assert parameters[name]["Type"] == {"integer": "Integer", "number": "Float"}[row.json_type]
        assert hyperparameters[row.name] == {"Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{name}"}]}}


def json_gets(node: object) -> Iterator[tuple[str, str, str]]:
    """(step, property file, JSON path) of every ``Std:JsonGet`` in the definition."""
    if isinstance(node, dict):
        if "Std:JsonGet" in node:
            get = node["Std:JsonGet"]
            _, step, _, name = get["PropertyFile"]["Get"].split(".")
            yield step, name, get["Path"]
        for value in node.values():
            yield from json_gets(value)
    elif isinstance(node, list):
        for item in node:
            yield from json_gets(item)


def test_every_value_the_definition_reads_is_in_the_file_the_step_writes(
    definition: dict[str, Any], sample_run: PipelineRun
) -> None:
    """Run the steps' code (the session's sample run), then resolve every JsonGet of the definition in its output."""
    folders = {contract.PREPROCESS_STEP: sample_run.data, contract.EVALUATE_STEP: sample_run.evaluation}
    steps = steps_by_name(definition)
    reads = sorted(set(json_gets(definition["Steps"])))
    assert {(step, name) for step, name, _ in reads} == {
        (contract.PREPROCESS_STEP, contract.FINGERPRINT.name),
        (contract.EVALUATE_STEP, contract.EVALUATION.name),
        (contract.EVALUATE_STEP, contract.GATES.name),
    }
    for step, name, json_path in reads:
        (declared,) = [f for f in steps[step]["PropertyFiles"] if f["PropertyFileName"] == name]
        data: object = json.loads((folders[step] / declared["OutputName"] / declared["FilePath"]).read_text())
        for key in json_path.split("."):
            assert isinstance(data, dict), (step, name, json_path)
            assert key in data, f"{step}'s {declared['FilePath']} has no {json_path}"
            data = data[key]
        assert data is not None, (step, name, json_path)
    gates = sample_run.gates()
    for gate in contract.GATE_SEQUENCE:
        assert gates[gate.key][contract.GATE_PASSED_FIELD] in {contract.GATE_PASSED, contract.GATE_FAILED}


def output_files(node: object) -> Iterator[tuple[str, str, str]]:
    """(step, output, file) of every ``Join(<a processing output's S3 URI>, <file>)`` (the registered reports)."""
    if isinstance(node, dict):
        values = node.get("Std:Join", {}).get("Values")
        if isinstance(values, list) and len(values) == 2 and isinstance(values[0], dict):
            reference = str(values[0].get("Get", ""))
            if ".ProcessingOutputConfig.Outputs[" in reference:
                step = reference.split(".")[1]
                output = reference.split("Outputs['")[1].split("']", maxsplit=1)[0]
                yield step, output, str(values[1])
        for value in node.values():
            yield from output_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from output_files(item)


def test_every_file_the_definition_registers_is_written_by_its_step(
    definition: dict[str, Any], sample_run: PipelineRun
) -> None:
    folders = {contract.PREPROCESS_STEP: sample_run.data, contract.EVALUATE_STEP: sample_run.evaluation}
    registered = set(output_files(definition["Steps"]))
    assert {file for _, _, file in registered} == {
        contract.EVALUATION.path,
        contract.ANALYSIS,
        contract.ANALYSIS_CONFIG,
        contract.BASELINE_STATISTICS,
        contract.BASELINE_CONSTRAINTS,
        contract.TEST_RAW_FILE,  # the held-out rows a deployment's smoke test sends (metadata test_data_uri)
    }
    for step, output, file in registered:
        assert (folders[step] / output / file).is_file(), f"{step} writes no {output}/{file}"
