"""The one device and precision choice (eels_helpers.device) of training and inference."""

import numpy as np
import pytest
import torch

from eels_helpers import device as dev

ZEN4 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
        "flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl avx512dq avx512_bf16\n")
SKYLAKE_SP = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl avx512dq avx512_vnni\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: avx2 avx512f amx_tile amx_bf16 amx_int8\n"
AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\nbugs\t\t: avx512_bf16_is_not_a_flag_here\n"


def test_native_bf16_is_read_from_the_cpu_flags():
    assert dev.cpu_has_native_bf16(ZEN4) and dev.cpu_has_native_bf16(SAPPHIRE_RAPIDS)
    # AVX512 without bf16 instructions: oneDNN can run bf16 there (emulated), it is not fast
    assert not dev.cpu_has_native_bf16(SKYLAKE_SP)
    assert not dev.cpu_has_native_bf16(AVX2_ONLY)        # only the flags line counts
    assert not dev.cpu_has_native_bf16("")


def test_native_bf16_is_false_where_cpuinfo_cannot_be_read(monkeypatch, tmp_path):
    monkeypatch.setattr(dev, "bfloat16_fault", lambda device_type="cpu": None)     # computes right
    monkeypatch.setattr(dev, "CPUINFO", tmp_path / "absent")
    assert dev.cpu_has_native_bf16() is False and dev.fast_bfloat16("cpu") is False
    (tmp_path / "cpuinfo").write_text(ZEN4)
    monkeypatch.setattr(dev, "CPUINFO", tmp_path / "cpuinfo")
    assert dev.cpu_has_native_bf16() is True and dev.fast_bfloat16(torch.device("cpu")) is True


def test_this_machine_answer_matches_its_flags():
    from pathlib import Path

    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    flags = {f for line in text.splitlines() if line.split(":")[0].strip() == "flags"
             for f in line.split(":", 1)[1].split()}
    assert dev.fast_bfloat16("cpu") == (bool(flags & {"avx512_bf16", "amx_bf16"}) and dev.bfloat16_fault("cpu") is None)


def test_bfloat16_fault_compares_convolutions_with_float32(monkeypatch):
    # its own answer on this machine, recomputed independently: bfloat16 autocast convolutions (kernel 32)
    # within the tolerance of float32 for every channel count 1-16, or a fault naming the worst
    gen = torch.Generator().manual_seed(1)
    errors = []
    for channels in range(1, 17):
        x, w = torch.randn(2, channels, 256, generator=gen), torch.randn(4, channels, 32, generator=gen)
        exact = torch.nn.functional.conv1d(x, w)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            errors.append(float((torch.nn.functional.conv1d(x, w).float() - exact).norm() / exact.norm()))
    fault = dev.bfloat16_fault("cpu")
    assert (fault is None) == (max(errors) <= dev.BF16_CONV_TOLERANCE)
    if fault is not None:
        assert "% away from float32" in fault and torch.__version__ in fault
    # a fault turns "auto" into float32 and refuses explicit bfloat16, for training and inference
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(dev, "bfloat16_fault", lambda device_type="cpu": "bfloat16 convolutions are wrong here")
    assert dev.fast_bfloat16("cpu") is False and dev.resolve_precision("auto", "cpu") == "fp32"
    with pytest.raises(ValueError, match="wrong here: use float32"):
        dev.resolve_precision("bf16", "cpu")
    from eels_helpers.inference.predict import _as_loaded, run_model

    with pytest.raises(ValueError, match="wrong here"):
        run_model(_as_loaded("default", "cpu"), np.zeros((1, 3072), np.float32), bfloat16=True)


def test_resolve_device():
    assert dev.resolve_device("cpu") == torch.device("cpu")
    assert dev.resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    assert dev.resolve_device("auto") == expected
    for bad in ("gpu", "cuda:x", "", "mps"):
        with pytest.raises(ValueError, match="device must be"):
            dev.resolve_device(bad)
    if torch.cuda.is_available():
        assert dev.resolve_device("cuda", local_rank=0) == torch.device("cuda", 0)
        assert dev.resolve_device("cuda:0") == torch.device("cuda", 0)
    else:
        with pytest.raises(ValueError, match="CUDA cannot be used here: .*; use the device 'cpu'"):
            dev.resolve_device("cuda")


def test_resolve_precision(monkeypatch):
    monkeypatch.setattr(dev, "bfloat16_fault", lambda device_type="cpu": None)     # computes right (see above)
    cpu = torch.device("cpu")
    assert dev.resolve_precision("fp32", cpu) == "fp32" and dev.resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="fp16' needs CUDA"):
        dev.resolve_precision("fp16", cpu)
    with pytest.raises(ValueError, match="precision must be one of"):
        dev.resolve_precision("int8", cpu)
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: True)
    assert dev.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: False)
    assert dev.resolve_precision("auto", cpu) == "fp32"
    # CUDA: bf16 from compute capability 8.0, else fp16 (with a gradient scaler in training)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: not including_emulation)
    assert dev.resolve_precision("auto", "cuda") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert dev.resolve_precision("auto", "cuda") == "fp16"      # emulated bf16 does not count as fast


def test_use_bfloat16_reads_auto_as_fast_bfloat16(monkeypatch):
    for fast in (True, False):
        monkeypatch.setattr(dev, "fast_bfloat16", lambda device="cpu", fast=fast: fast)
        assert dev.use_bfloat16("auto", "cpu") is fast
        assert dev.use_bfloat16(True, "cpu") is True and dev.use_bfloat16(False, "cpu") is False


def test_training_and_inference_use_this_module():
    import eels_helpers.inference.predict as predict
    import eels_helpers.training.loop as loop

    assert predict.resolve_device is dev.resolve_device and predict.use_bfloat16 is dev.use_bfloat16
    assert loop.resolve_device is dev.resolve_device and loop.resolve_precision is dev.resolve_precision
