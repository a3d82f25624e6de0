"""Checks of deploy/: the files that run gdr on Dataflow, Airflow and Flink.

Nothing here builds an image, calls Google Cloud or starts Flink (none of that exists on
the machines the suite runs on). What can be checked offline is whether the files agree
with the code and with each other:

* every Flex Template parameter, passed the way Dataflow passes it (``--name=value``),
  parses as one of ``gdr annotate``'s own flags, and the required ones are required;
* the Dockerfile's Python minor and Beam version match setup.py, the installed Beam and
  the environment deploy/requirements.txt was resolved in; torch is pinned to what run.sh
  tests with, installed before everything else; the Beam boot entrypoint is set;
* deploy/requirements.txt resolves offline: every line pinned, every install_requires entry
  and every dependency range of apache-beam[gcp] (and of each pinned package) satisfied by
  the pins, with markers evaluated for the running Python;
* the Airflow DAG (ast only; Airflow is not installed) uses the logical date and alerts;
* the Flink manifest has the Beam worker-pool sidecar, and its submit command parses.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata as md
import importlib.util
import json
import re
import shlex
from pathlib import Path

import apache_beam
import pytest
import yaml
from apache_beam.options.pipeline_options import FlinkRunnerOptions, PipelineOptions, _BeamArgumentParser
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from beam_pipeline.config import AnnotateConfig
from beam_pipeline.options import AnnotateOptions, unknown_flags
from beam_pipeline.run import annotate_parser, parse_annotate_args
from beam_pipeline.settings import flag_names

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
METADATA = json.loads((DEPLOY / "flex_template" / "metadata.json").read_text(encoding="utf-8"))
PARAMS = {p["name"]: p for p in METADATA["parameters"]}
DOCKERFILE = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
REQUIREMENTS = (DEPLOY / "requirements.txt").read_text(encoding="utf-8")
REQUIRED = {"input", "output"}

# A plausible value per template parameter, as a user would type it into the console.
EXAMPLES = {
    "input": "gs://my-bucket/corpus/*.jsonl",
    "output": "gs://my-bucket/prefs",
    "run_date": "2026-03-14",
    "pair": "qwen-0.5b-over-smollm-135m",
    "strong": "gs://my-bucket/models/dpo",
    "weak": "gs://my-bucket/models/sft",
    "router_model": "gs://my-bucket/models/router",
    "guides": "none",
    "router": "keyword",
    "router_examples": "gs://bucket/router_examples.jsonl",
    "router_threshold": "0.7",
    "default_domain": "safety",
    "reward": "mean",
    "pairing": "all",
    "min_margin": "0.5",
    "max_tokens": "4096",
    "batch_tokens": "16384",
    "dtype": "bfloat16",
    "device": "cuda",
    "output_shards": "4",
    "output_file_mb": "256",
    "score_retries": "3",
    "model_copies": "2",
    "accelerator_hint": "type:nvidia-l4;count:1;machine_type:g2-standard-8;install-nvidia-driver",
    "max_dead_letter_fraction": "0.01",
    "rescore": "true",
    "break_lock": "true",
}


def _flex_main():
    spec = importlib.util.spec_from_file_location("gdr_flex_main", DEPLOY / "flex_main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _app_actions() -> dict[str, argparse.Action]:
    return {opt: a for a in annotate_parser()._actions for opt in a.option_strings}


def _beam_option_strings() -> set[str]:
    """Option strings of every Beam options class except the app's own AnnotateOptions."""
    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__() if c is not AnnotateOptions}.values():
        cls._add_argparse_args(parser)
    return {opt for a in parser._actions for opt in a.option_strings}


def _setup_call_kwargs() -> dict[str, ast.expr]:
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    return {k.arg: k.value for k in call.keywords}


def _install_requires() -> list[Requirement]:
    return [Requirement(ast.literal_eval(e)) for e in _setup_call_kwargs()["install_requires"].elts]


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in REQUIREMENTS.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            req = Requirement(line)
            (spec,) = req.specifier
            pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, buf = [], ""
    for raw in DOCKERFILE.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        buf += " " + line.rstrip("\\").strip() if buf else line.rstrip("\\").strip()
        if not line.endswith("\\"):
            word, _, rest = buf.partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = ""
    return out


# -- Flex Template metadata ------------------------------------------------------------


def test_metadata_is_well_formed_and_every_parameter_has_an_example():
    assert METADATA["name"] and METADATA["description"]
    names = [p["name"] for p in METADATA["parameters"]]
    assert len(names) == len(set(names)), "duplicate parameter names"
    for p in METADATA["parameters"]:
        assert {"name", "label", "helpText"} <= p.keys(), p
        assert isinstance(p.get("isOptional", False), bool), p
    assert set(names) <= EXAMPLES.keys(), f"add example values to this test for {sorted(set(names) - EXAMPLES.keys())}"


def test_required_parameters_are_not_optional():
    for name in REQUIRED:
        assert name in PARAMS, f"{name} missing from metadata.json"
        assert PARAMS[name].get("isOptional", False) is False, f"{name} is required by gdr annotate"
    # Flags that must not be settable from a shared template (dangerous or implied).
    # break_lock is one: the nightly DAG's retry needs it once the failed try's job has ended.
    for name in ("no_wait", "trust_remote_code", "allow_pickle"):
        assert name not in PARAMS


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_is_an_app_flag_not_a_beam_option(name):
    actions = _app_actions()
    dashed = "--" + name.replace("_", "-")
    assert dashed in actions, f"{name}: gdr annotate has no {dashed}"
    assert actions[dashed].dest in flag_names(AnnotateConfig), f"{name}: {dashed} does not reach AnnotateConfig"
    beam = _beam_option_strings()
    # flex_main respells --name_with_underscores to the app's flag; a Beam option of the
    # same spelling would be taken away from Beam.
    assert f"--{name}" not in beam and dashed not in beam, f"{name} is a Beam pipeline option"


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_parses_as_dataflow_passes_it(name):
    value = EXAMPLES[name]
    args = _flex_main().to_app_args([f"--{name}={value}"])
    parser = annotate_parser()
    known, rest = parser.parse_known_args(args)
    assert rest == [], f"{name}: not consumed by gdr annotate: {rest}"
    action = _app_actions()["--" + name.replace("_", "-")]
    got = getattr(known, action.dest)
    assert got != parser.get_default(action.dest), f"{name}={value} left {action.dest} at its default"
    if isinstance(got, list):
        assert got == [value]
    elif not isinstance(got, bool):
        assert str(got) == value or float(got) == float(value)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_regexes_accept_valid_values_only(name):
    regexes = PARAMS[name].get("regexes", [])
    for rx in regexes:
        assert re.search(rx, EXAMPLES[name]), f"{name}: example {EXAMPLES[name]!r} fails {rx}"
    action = _app_actions()["--" + name.replace("_", "-")]
    if action.choices:
        assert regexes, f"{name}: has choices {action.choices}, give it a regex"
        for choice in action.choices:
            assert all(re.search(rx, choice) for rx in regexes), f"{name}: regex rejects valid {choice!r}"
        assert not any(re.search(rx, "bogus") for rx in regexes)
    if getattr(action.type, "__name__", "") == "_positive_int":
        assert any(not re.search(rx, "0") for rx in regexes), f"{name}: regex accepts 0"
    if isinstance(action, argparse._StoreTrueAction):
        assert all(re.search(rx, "false") for rx in regexes) and not any(re.search(rx, "yes") for rx in regexes)


def test_flex_main_respells_app_flags_and_leaves_beam_options_alone():
    to_app_args = _flex_main().to_app_args
    beam = [
        "--sdk_container_image=europe-docker.pkg.dev/p/r/gdr:1",
        "--dataflow_service_options=worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver",
        "--experiments=no_use_multiple_sdk_containers",
    ]
    assert to_app_args(["--run_date=2026-03-14", "--router_model=gs://b/m", *beam]) == [
        "--run-date=2026-03-14",
        "--router-model=gs://b/m",
        *beam,
    ]
    assert to_app_args(["--rescore=true"]) == ["--rescore"]
    assert to_app_args(["--rescore=false"]) == []
    with pytest.raises(SystemExit):
        to_app_args(["--rescore=maybe"])


def test_what_the_launcher_passes_parses_and_never_waits(monkeypatch):
    """The argv a Flex Template launcher builds: template parameters plus Dataflow's own options."""
    argv = [
        "--input=gs://b/corpus/*.jsonl",
        "--output=gs://b/prefs",
        "--strong=gs://b/models/dpo",
        "--weak=gs://b/models/sft",
        "--run_date=2026-03-14",
        "--accelerator_hint=type:nvidia-l4;count:1;install-nvidia-driver",
        "--runner=DataflowRunner",
        "--project=my-project",
        "--region=us-central1",
        "--job_name=gdr-annotate-20260314",
        "--temp_location=gs://b/tmp",
        "--staging_location=gs://b/staging",
        "--template_location=gs://b/staging/template_launches/job_object",
        "--sdk_container_image=us-central1-docker.pkg.dev/p/r/gdr:1",
        "--worker_machine_type=g2-standard-8",
        "--disk_size_gb=200",
        "--experiments=no_use_multiple_sdk_containers",
        "--number_of_worker_harness_threads=8",
    ]
    seen = {}

    def fake_run(args):
        seen["args"] = args
        return 0

    monkeypatch.setattr("beam_pipeline.run.run", fake_run)
    assert _flex_main().main(argv) == 0
    config, beam_args = parse_annotate_args(seen["args"])
    assert config.no_wait is True and config.run_date == "2026-03-14"
    assert config.accelerator_hint == "type:nvidia-l4;count:1;install-nvidia-driver"
    assert "--runner=DataflowRunner" in beam_args and "--disk_size_gb=200" in beam_args


# -- Dockerfile ---------------------------------------------------------------------------


def _beam_sdk_image() -> tuple[str, str]:
    m = re.search(r"COPY --from=apache/beam_python(\d+\.\d+)_sdk:(\S+) /opt/apache/beam /opt/apache/beam", DOCKERFILE)
    assert m, "Dockerfile must COPY /opt/apache/beam from apache/beam_pythonX.Y_sdk:VERSION"
    return m.group(1), m.group(2)


def test_dockerfile_beam_version_matches_setup_and_installed_beam():
    _, beam_version = _beam_sdk_image()
    assert beam_version == apache_beam.version.__version__
    (beam_req,) = [r for r in _install_requires() if canonicalize_name(r.name) == "apache-beam"]
    assert beam_req.specifier.contains(beam_version)
    assert _pins()["apache-beam"] == Version(beam_version)
    assert "gcp" in beam_req.extras


def test_dockerfile_python_minor_matches_everywhere():
    py, _ = _beam_sdk_image()
    installs = set(
        re.findall(r"\bpython(3\.\d+)(?:-venv)?\b", " ".join(a for i, a in _dockerfile_instructions() if i == "RUN"))
    )
    assert installs == {py}, f"Dockerfile installs Python {installs}, Beam SDK image is {py}"
    python_requires = SpecifierSet(ast.literal_eval(_setup_call_kwargs()["python_requires"]))
    assert python_requires.contains(f"{py}.0"), f"setup.py python_requires {python_requires} excludes {py}"
    resolved = re.search(r"resolved on: CPython (\d+\.\d+)", REQUIREMENTS)
    assert resolved and resolved.group(1) == py, "deploy/requirements.txt was resolved on another Python minor"
    launcher = re.search(r"python(\d)(\d+)-template-launcher-base", DOCKERFILE)
    assert launcher and f"{launcher.group(1)}.{launcher.group(2)}" == py


def test_dockerfile_entrypoint_is_beam_boot_and_launcher_file_is_copied():
    instructions = _dockerfile_instructions()
    entrypoints = [a for i, a in instructions if i == "ENTRYPOINT"]
    assert entrypoints and json.loads(entrypoints[-1]) == ["/opt/apache/beam/boot"]
    env = " ".join(a for i, a in instructions if i == "ENV")
    assert "RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1" in env, "boot would make a fresh venv without the packages"
    py_file = re.search(r"FLEX_TEMPLATE_PYTHON_PY_FILE=(\S+)", env).group(1)
    assert py_file.endswith("/deploy/flex_main.py") and (DEPLOY / "flex_main.py").is_file()
    assert any(i == "COPY" and a.startswith("deploy/flex_main.py ") for i, a in instructions)
    assert "/opt/google/dataflow/python_template_launcher" in DOCKERFILE


def test_dockerfile_pins_torch_first_to_the_tested_version():
    instructions = _dockerfile_instructions()
    runs = [(n, a) for n, (i, a) in enumerate(instructions) if i == "RUN"]
    torch_at = [n for n, a in runs if re.search(r"pip install .*\btorch==", a)]
    reqs_at = [n for n, a in runs if "-r /opt/gdr/deploy/requirements.txt" in a]
    project_at = [n for n, a in runs if "pip install --no-deps ." in a]
    assert torch_at and reqs_at and project_at
    assert torch_at[0] < reqs_at[0] < project_at[0], "torch, then requirements, then the project"
    torch_version = re.search(r"\btorch==([\w.+]+)", instructions[torch_at[0]][1]).group(1)
    tested = re.search(r"install -q torch==([\w.]+)", (ROOT / "run.sh").read_text(encoding="utf-8")).group(1)
    assert torch_version == tested, "the image must run the torch the test suite runs"
    (torch_req,) = [r for r in _install_requires() if canonicalize_name(r.name) == "torch"]
    assert torch_req.specifier.contains(torch_version)
    assert "torch" not in _pins(), "torch belongs in the Dockerfile (CUDA wheel), not requirements.txt"


def test_docker_context_keeps_what_the_dockerfile_copies():
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    kept = {line[1:].removesuffix("/**") for line in ignore if line.startswith("!")}
    for instruction, args in _dockerfile_instructions():
        if instruction != "COPY" or args.startswith("--from"):
            continue
        for src in args.split()[:-1]:
            assert (ROOT / src).exists(), f"COPY {src}: no such path"
            assert src in kept, f"COPY {src} is excluded by deploy/Dockerfile.dockerignore"


# -- requirements.txt: an offline resolution check ----------------------------------------


def test_requirements_are_all_pinned_once():
    names = []
    for line in REQUIREMENTS.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        req = Requirement(line)
        assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", f"not pinned: {line}"
        assert not req.marker and not req.extras, f"keep requirements.txt to plain pins: {line}"
        names.append(canonicalize_name(req.name))
    assert len(names) == len(set(names)), "duplicate pins"


def test_requirements_cover_install_requires():
    pins = _pins()
    for req in _install_requires():
        name = canonicalize_name(req.name)
        if name == "torch":
            continue  # the Dockerfile's CUDA wheel (checked above)
        assert name in pins, f"{req} from setup.py is not pinned"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} violates {req}"


def _satisfied(req: Requirement, pins: dict[str, Version], where: str) -> None:
    name = canonicalize_name(req.name)
    assert name in pins, f"{where} needs {req}, which is not pinned"
    assert req.specifier.contains(pins[name], prereleases=True), f"{where} needs {req}, pinned {pins[name]}"


def test_pins_satisfy_apache_beam_gcp_dependency_ranges():
    """apache-beam[gcp]'s own ranges (its installed metadata), markers for this Python."""
    pins = _pins()
    for line in md.requires("apache-beam") or []:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", "gcp")):
            _satisfied(req, pins, "apache-beam[gcp]")


def test_pins_are_a_closed_consistent_set():
    """Every pinned package's requirements (with the extras others ask of it) are pinned and satisfied.

    Read from the installed metadata of the packages whose installed version is the pin
    (others cannot be checked offline); torch counts as pinned by the Dockerfile.
    """
    pins = _pins()
    pins["torch"] = Version(re.search(r"\btorch==([\w.]+)", DOCKERFILE).group(1))
    extras: dict[str, set[str]] = {name: {""} for name in pins}
    for req in _install_requires():
        extras.setdefault(canonicalize_name(req.name), {""}).update(req.extras)

    def installed_as_pinned(name: str) -> bool:
        try:
            return name != "torch" and Version(md.version(name)) == pins[name]
        except md.PackageNotFoundError:
            return False

    same = {name for name in pins if installed_as_pinned(name)}
    if len(same) < len(pins) / 2:
        pytest.skip(
            f"only {len(same)} of {len(pins)} pins are installed here; regenerate deploy/requirements.txt "
            "with deploy/freeze_requirements.py from the environment the tests pass in"
        )
    checked = 0
    for _ in range(2):  # extras requested by one package widen what another must satisfy
        for name, version in pins.items():
            if name not in same:
                continue
            for line in md.requires(name) or []:
                req = Requirement(line)
                if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras[name]):
                    continue
                extras.setdefault(canonicalize_name(req.name), {""}).update(req.extras)
                _satisfied(req, pins, f"{name}=={version}")
                checked += 1
    assert checked > len(same), "hardly any requirements were checked"


# -- Airflow DAG (ast only) -----------------------------------------------------------------

DAG_SOURCE = (DEPLOY / "airflow" / "gdr_nightly.py").read_text(encoding="utf-8")
DAG_TREE = ast.parse(DAG_SOURCE)


def _dict_entries(tree: ast.AST) -> dict[str, list[ast.expr]]:
    entries: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and isinstance(k.value, str):
                    entries.setdefault(k.value, []).append(v)
    return entries


def _call(tree: ast.AST, func_name: str) -> ast.Call:
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == func_name]
    assert len(calls) == 1, f"expected one {func_name}(...)"
    return calls[0]


def test_dag_launches_the_template_for_the_logical_date():
    entries = _dict_entries(DAG_TREE)
    (run_date,) = entries["run_date"]
    assert isinstance(run_date, ast.Constant) and run_date.value == "{{ ds }}"
    dates = [
        n.value
        for n in ast.walk(DAG_TREE)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and re.search(r"\d{4}-\d{2}-\d{2}", n.value)
    ]
    assert dates == [], f"hard-coded dates: {dates}"
    op = _call(DAG_TREE, "DataflowStartFlexTemplateOperator")
    kwargs = {k.arg: k.value for k in op.keywords}
    assert ast.literal_eval(kwargs["wait_until_finished"]) is True
    dag = _call(DAG_TREE, "DAG")
    schedule = {k.arg: k.value for k in dag.keywords}["schedule"]
    assert ast.literal_eval(schedule) in ("@daily", "0 0 * * *")


def test_dag_parameters_are_template_parameters_or_beam_options():
    (parameters,) = _dict_entries(DAG_TREE)["parameters"]
    keys = {k.value for k in parameters.keys}
    beam = _beam_option_strings()
    for key in keys:
        assert key in PARAMS or f"--{key}" in beam, f"{key} is neither a template parameter nor a Beam option"
    assert REQUIRED <= keys
    (environment,) = _dict_entries(DAG_TREE)["environment"]
    # FlexTemplateRuntimeEnvironment fields (Dataflow API v1b3).
    known = {
        "numWorkers", "maxWorkers", "zone", "serviceAccountEmail", "tempLocation", "machineType",
        "additionalExperiments", "network", "subnetwork", "additionalUserLabels", "kmsKeyName",
        "ipConfiguration", "workerRegion", "workerZone", "enableStreamingEngine", "flexrsGoal",
        "stagingLocation", "sdkContainerImage", "diskSizeGb", "autoscalingAlgorithm", "dumpHeapOnOom",
        "saveHeapDumpsToGcsPath", "launcherMachineType", "enableLauncherVmSerialPortLogging",
        "additionalPipelineOptions",
    }  # fmt: skip
    assert {k.value for k in environment.keys} <= known


def test_dag_alerts_on_failure():
    entries = _dict_entries(DAG_TREE)
    assert "on_failure_callback" in entries, "default_args needs an on_failure_callback"
    (callback,) = entries["on_failure_callback"]
    defined = {n.name for n in ast.walk(DAG_TREE) if isinstance(n, ast.FunctionDef)}
    assert isinstance(callback, ast.Name) and callback.id in defined
    (email_on_failure,) = entries["email_on_failure"]
    assert not (isinstance(email_on_failure, ast.Constant) and email_on_failure.value is False)


# -- Flink ------------------------------------------------------------------------------------

FLINK_TEXT = (DEPLOY / "flink" / "flink-deployment.yaml").read_text(encoding="utf-8")


def _flink_deployment() -> dict:
    docs = [d for d in yaml.safe_load_all(FLINK_TEXT) if d]
    (dep,) = [d for d in docs if d.get("kind") == "FlinkDeployment"]
    assert dep["apiVersion"] == "flink.apache.org/v1beta1"
    return dep


def test_flink_taskmanager_has_the_beam_worker_pool_sidecar_with_a_gpu():
    spec = _flink_deployment()["spec"]
    containers = {c["name"]: c for c in spec["taskManager"]["podTemplate"]["spec"]["containers"]}
    assert "flink-main-container" in containers
    pools = [c for c in containers.values() if "--worker_pool" in c.get("args", [])]
    assert len(pools) == 1, "one Beam worker-pool sidecar started with --worker_pool"
    pool = pools[0]
    assert 50000 in [p["containerPort"] for p in pool["ports"]]
    assert int(pool["resources"]["limits"]["nvidia.com/gpu"]) == 1
    assert str(spec["flinkConfiguration"]["taskmanager.numberOfTaskSlots"]) == "1"
    flink = spec["flinkVersion"].removeprefix("v").replace("_", ".")
    assert flink in FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS, (
        f"Beam {apache_beam.__version__} has no Flink {flink} runner"
    )


def test_flink_submit_command_parses_and_matches_the_manifest():
    (line,) = [ln for ln in FLINK_TEXT.splitlines() if ln.startswith("# submit:")]
    words = shlex.split(line.removeprefix("# submit:"))
    args = words[words.index("annotate") + 1 :]
    known, rest = annotate_parser().parse_known_args(args)
    assert unknown_flags(rest) == [], "the submit command uses flags neither gdr nor Beam knows"
    beam = PipelineOptions(rest).get_all_options()
    assert beam["runner"] in ("FlinkRunner", "PortableRunner")
    assert beam["environment_type"] == "EXTERNAL" and beam["environment_config"] == "localhost:50000"
    assert int(beam["sdk_worker_parallelism"]) == 1
    spec = _flink_deployment()["spec"]
    assert beam["flink_version"] == spec["flinkVersion"].removeprefix("v").replace("_", ".")
    slots = int(spec["flinkConfiguration"]["taskmanager.numberOfTaskSlots"]) * int(spec["taskManager"]["replicas"])
    assert 0 < int(beam["parallelism"]) <= slots, "more parallel tasks than the cluster has slots"
    assert known.input and known.output and known.strong and known.weak


def test_cloudbuild_builds_the_deploy_dockerfile():
    build = yaml.safe_load((DEPLOY / "cloudbuild.yaml").read_text(encoding="utf-8"))
    (step,) = build["steps"]
    assert step["args"][:3] == ["build", "-f", "deploy/Dockerfile"] and step["args"][-1] == "."
