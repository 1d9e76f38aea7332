import json
import subprocess
import sys
import time


def test_help_lists_every_subcommand(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for name in ("forecast", "ssm", "reconstruct", "summarize", "datasets"):
        assert name in result.stdout


def test_version(cli):
    import tsdyn

    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tsdyn {tsdyn.__version__}"


def test_help_is_fast_and_imports_no_torch():
    code = "import sys, tsdyn.cli; print('torch' in sys.modules, 'polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tsdyn", "--help"], capture_output=True, check=True)
    assert time.perf_counter() - start < 3.0  # generous on a loaded CI machine; ~0.2 s measured


def test_unknown_option_is_one_line_exit_2(cli):
    result = cli("datasets", "info", "demo", "--bogus")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--bogus" in result.stderr


def test_datasets_list_json(cli):
    result = cli("datasets", "list", "--json")
    assert result.exit_code == 0
    assert {"demo", "lorenz63", "rossler", "lorenz96"} <= set(json.loads(result.stdout))
