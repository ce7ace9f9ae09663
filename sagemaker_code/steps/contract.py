"""Every name and path that the pipeline definition, the step code and the local runner must agree on.

The definition (synth time) wires S3 locations to these container paths and reads these property files; the steps
(inside the containers) read and write them; the local runner maps the same paths to folders and evaluates the same
JSON paths. One module, bundled with the step code (standard library only), imported by all three: a name changed
here changes everywhere, and a name written anywhere else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- the container's file system ------------------------------------------------------------------------------

#: Root of every SageMaker container path; the local runner maps it to a folder per step.
CONTAINER_ROOT = "/opt/ml"
#: Processing jobs: inputs land under ``.../input/<name>``, outputs are uploaded from ``.../output/<name>``.
PROCESSING_ROOT = f"{CONTAINER_ROOT}/processing"
PROCESSING_INPUT = f"{PROCESSING_ROOT}/input"
PROCESSING_OUTPUT = f"{PROCESSING_ROOT}/output"
#: Where a processing step unpacks the code bundle, and where script-mode training runs it from.
CODE_DIR = f"{CONTAINER_ROOT}/code"
#: The processing input that carries the code bundle (one tar.gz).
CODE_INPUT = "code"
#: The validated dataset spec, inside the code bundle at its root (next to the ``sagemaker_code`` package).
SPEC_FILE = "dataset_spec.json"
SPEC_PATH = f"{CODE_DIR}/{SPEC_FILE}"
#: The hyperparameter table (name, type, default, bounds, description of each; derived from the config schema at
#: synth), inside the code bundle at its root: the training step builds its arguments and checks from it.
HYPERPARAMETER_TABLE = "hyperparameters.json"
HYPERPARAMETER_TABLE_PATH = f"{CODE_DIR}/{HYPERPARAMETER_TABLE}"
#: The training program of script mode: a launcher at the bundle root (see sagemaker_code.definition.bundle).
TRAIN_PROGRAM = "train.py"
#: Script-mode training: channels under ``<TRAINING_CHANNELS>/<channel>``, the model folder, and the toolkit's
#: environment variables (``SM_CHANNEL_<NAME>``, ``SM_MODEL_DIR``, ``SM_HPS``) that point at them.
TRAINING_CHANNELS = f"{CONTAINER_ROOT}/input/data"
MODEL_DIR = f"{CONTAINER_ROOT}/model"
SM_CHANNEL_PREFIX = "SM_CHANNEL_"
SM_MODEL_DIR = "SM_MODEL_DIR"
SM_HPS = "SM_HPS"
#: The toolkit's cluster variables: every host of the training job (JSON list) and this one (``algo-1``...).
SM_HOSTS = "SM_HOSTS"
SM_CURRENT_HOST = "SM_CURRENT_HOST"
#: Distributed training: the leader (the first host, sorted) runs XGBoost's collective tracker on this port.
COLLECTIVE_PORT = 9099
#: Serving (script mode): the program and where the model's code folder is unpacked (the Train step writes the
#: folder ``<model dir>/<SERVING_CODE_FOLDER>``, which the model archive carries to ``SERVING_CODE_DIR``).
SERVING_PROGRAM = "inference.py"
SERVING_CODE_FOLDER = "code"
SERVING_CODE_DIR = f"{MODEL_DIR}/{SERVING_CODE_FOLDER}"


def processing_input(name: str) -> str:
    """The container path of the processing input ``name``."""
    return f"{PROCESSING_INPUT}/{name}"


def processing_output(name: str) -> str:
    """The container path of the processing output ``name``."""
    return f"{PROCESSING_OUTPUT}/{name}"


def training_channel(channel: str) -> str:
    """The container path of the training channel ``channel``."""
    return f"{TRAINING_CHANNELS}/{channel}"


# ---- step modules, inputs and outputs ---------------------------------------------------------------------------

#: The Python modules the processing steps run (``python3 -m <module>`` from the unpacked bundle).
PREPROCESS_MODULE = "sagemaker_code.steps.preprocess"
#: The monitoring pipeline's one step (our own monitor: Model Monitor is closed to new customers) and its output.
MONITOR_MODULE = "sagemaker_code.steps.monitor"
MONITOR_STEP = "Monitor"
MONITOR_OUTPUT = "report"
#: Set by the local runner only: steps that call AWS themselves (the monitor) use files under this folder instead
#: (``s3/``, ``registry/``, ``ssm/``, ``cloudwatch/``; see sagemaker_code/steps/monitor_io.py).
LOCAL_AWS_ROOT = "MLOPS_LOCAL_AWS_ROOT"
#: The training pipeline parameter that records what started an execution (retraining sets it).
TRIGGER_PARAMETER = "Trigger"
EVALUATE_MODULE = "sagemaker_code.steps.evaluate"
#: The module the training launcher (``TRAIN_PROGRAM``) runs.
TRAIN_MODULE = "sagemaker_code.steps.train"

#: Names of the pipeline's steps (the gates' steps are in ``GATE_SEQUENCE``). The parameter check is the first step:
#: every other step is in its IfSteps; its ElseSteps check each parameter on its own (``Check<Parameter>``) and fail
#: with a message naming the parameter and its allowed values (``<Parameter>Invalid``).
PARAMETER_CHECK_STEP = "CheckParameters"
PREPROCESS_STEP = "Preprocess"
TRAIN_STEP = "Train"
EVALUATE_STEP = "Evaluate"
REGISTER_STEP = "Register"

#: Preprocess: the raw data input, and its outputs (one folder each).
DATA_INPUT = "data"
SPLITS = ("train", "validation", "test")
TRANSFORM_OUTPUT = "transform"
BASELINE_OUTPUT = "baseline"
FINGERPRINT_OUTPUT = "fingerprint"
REPORT_OUTPUT = "report"
PREPROCESS_OUTPUTS = (*SPLITS, TRANSFORM_OUTPUT, BASELINE_OUTPUT, FINGERPRINT_OUTPUT, REPORT_OUTPUT)
#: Train: the channels it reads (from Preprocess' outputs of the same names).
TRAINING_INPUTS = ("train", "validation", TRANSFORM_OUTPUT)
#: The channel (and the Preprocess input) that is sharded by S3 key over several instances: each instance gets
#: whole files of its own. Every other input is fully replicated.
SHARDED_TRAINING_INPUT = "train"
#: Bias mitigation of the Train step (pipeline parameter BiasMitigation, the training hyperparameter of this name).
BIAS_MITIGATION_HYPERPARAMETER = "bias_mitigation"
NO_MITIGATION = "none"
REWEIGHING = "reweighing"
BIAS_MITIGATIONS = (NO_MITIGATION, REWEIGHING)
#: The model folder's subfolder with the comparison model (the other BiasMitigation setting, trained on the same
#: splits when the spec has facets; Evaluate reports both side by side; serving never reads it).
COMPARISON_FOLDER = "comparison"
#: Evaluate: its inputs and outputs.
MODEL_INPUT = "model"
TEST_INPUT = "test"
#: The raw rows of the test split (the files' column names as header) in Preprocess' test output: Evaluate reads the
#: facets from them, and the registered package names them (``test_data_uri``) for the smoke test of a deployment.
TEST_RAW_FILE = "test_raw.csv"
EVALUATION_OUTPUT = "evaluation"
BIAS_OUTPUT = "bias"
GATES_OUTPUT = "gates"
EVALUATE_OUTPUTS = (EVALUATION_OUTPUT, BIAS_OUTPUT, GATES_OUTPUT)


def parameter_check_step(parameter: str) -> str:
    """The condition step that checks one pipeline parameter (in the parameter check's ElseSteps)."""
    return f"Check{parameter}"


def parameter_fail_step(parameter: str) -> str:
    """The Fail step of a parameter out of its allowed values."""
    return f"{parameter}Invalid"


# ---- files the steps write and the definition reads ---------------------------------------------------------------


@dataclass(frozen=True)
class PropertyFileSpec:
    """A JSON file a step writes into one of its outputs, which the definition declares as a PropertyFile."""

    name: str
    output: str
    path: str


FINGERPRINT = PropertyFileSpec("Fingerprint", FINGERPRINT_OUTPUT, "fingerprint.json")
EVALUATION = PropertyFileSpec("Evaluation", EVALUATION_OUTPUT, "evaluation.json")
GATES = PropertyFileSpec("Gates", GATES_OUTPUT, "gates.json")

#: JSON paths into fingerprint.json and evaluation.json (Std:JsonGet) that the definition records.
FINGERPRINT_SHA256 = "sha256"
FINGERPRINT_ROWS = "rows"
DECISION_THRESHOLD = "decision_threshold"
#: Baseline files of Preprocess (registered with the model package).
BASELINE_STATISTICS = "statistics.json"
BASELINE_CONSTRAINTS = "constraints.json"
#: The bias report in SageMaker Clarify's formats, in Evaluate's bias output.
BIAS_DATASET = "dataset.csv"
ANALYSIS_CONFIG = "analysis_config.json"
ANALYSIS = "analysis.json"
#: Facet columns of the bias dataset are ``<FACET_PREFIX><facet name>``.
FACET_PREFIX = "facet_"
#: The Clarify methods Evaluate computes (metrics are read by name, never by position).
PRE_TRAINING_METHODS = ("CI", "DPL")
POST_TRAINING_METHODS = ("DI", "DPPL", "RD")
#: The method the bias gate reads (disparate impact, post-training).
DISPARATE_IMPACT = "DI"

# ---- gates ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """One gate: its key in gates.json, its condition step and its Fail step."""

    key: str
    condition_step: str
    fail_step: str

    @property
    def passed_path(self) -> str:
        return f"{self.key}.{GATE_PASSED_FIELD}"

    @property
    def message_path(self) -> str:
        return f"{self.key}.{GATE_MESSAGE_FIELD}"


#: The fields of a gate's entry in gates.json that the condition step and its Fail step read.
GATE_PASSED_FIELD = "passed"
GATE_MESSAGE_FIELD = "message"
QUALITY_GATE = Gate("quality", "QualityGate", "QualityGateFailed")
COST_GATE = Gate("cost", "CostGate", "CostGateFailed")
BIAS_GATE = Gate("bias", "BiasGate", "BiasGateFailed")
#: In the order the condition steps check them.
GATE_SEQUENCE = (QUALITY_GATE, COST_GATE, BIAS_GATE)
#: ``passed`` of a gate that lets the model through, and of one that stops it.
GATE_PASSED = 1
GATE_FAILED = 0
