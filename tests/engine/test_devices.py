"""--device auto|cpu|cuda|mps and the dtype per device and backend, from DeviceProbe records
(what a machine has) instead of the hardware, which this machine lacks."""

import pytest

from engine.backends.device import DeviceError, DeviceProbe, choose_dtype, choose_kind, pick_device
from engine.bundle.request import GenerateRequest
from engine.bundle.take_record import DeviceRecord, TakeParameters
from engine.memory import needs_of

GB = 10**9
AMPERE = DeviceProbe(cuda=True, cuda_name="RTX 3090", cuda_capability=(8, 6), cuda_bf16=True, cuda_free=23 * GB,
                     cuda_total=24 * GB, ram_available=64 * GB)
TURING = DeviceProbe(cuda=True, cuda_name="T4", cuda_capability=(7, 5), cuda_bf16=False, cuda_free=15 * GB,
                     ram_available=32 * GB)
APPLE = DeviceProbe(mps=True, mps_bytes=21 * GB, ram_available=20 * GB)
LAPTOP = DeviceProbe(cpu_threads=8, ram_available=24 * GB)
WORKSTATION = DeviceProbe(cpu_threads=32, ram_available=120 * GB)


@pytest.mark.parametrize("probe, kind", [(AMPERE, "cuda"), (APPLE, "mps"), (LAPTOP, "cpu"),
                                         (DeviceProbe(cuda=True, mps=True), "cuda")])
def test_auto_takes_cuda_then_mps_then_cpu(probe, kind):
    assert choose_kind("auto", probe) == kind


def test_a_device_asked_for_and_missing_says_what_to_use():
    with pytest.raises(DeviceError, match="--device mps .* no Apple GPU.*--device auto or cpu"):
        choose_kind("mps", LAPTOP)
    with pytest.raises(DeviceError, match="--device cuda .* no CUDA GPU"):
        choose_kind("cuda", APPLE)
    with pytest.raises(DeviceError, match="unknown device 'rocm'"):
        choose_kind("rocm", AMPERE)
    assert choose_kind("cpu", AMPERE) == "cpu" and choose_kind("mps", APPLE) == "mps"


def test_cuda_takes_bfloat16_only_where_the_gpu_has_it():
    assert choose_dtype("cuda", "bfloat16", AMPERE)[0] == "bfloat16"
    dtype, why = choose_dtype("cuda", "bfloat16", TURING)
    assert dtype == "float16" and "sm_75" in why
    assert choose_dtype("cuda", "float16", AMPERE)[0] == "float16"


def test_mps_takes_each_backends_own_type():
    assert choose_dtype("mps", "float16", APPLE, needs_of("animatediff"))[0] == "float16"
    assert choose_dtype("mps", "bfloat16", APPLE, needs_of("wan-vace"))[0] == "float32"


def test_cpu_takes_bfloat16_only_where_float32_weights_do_not_fit_the_ram():
    wan = needs_of("wan-vace")
    assert wan.weight_bytes("float32") > 30 * GB   # UMT5-XXL alone is 22.7 GB in float32
    dtype, why = choose_dtype("cpu", "bfloat16", LAPTOP, wan)
    assert dtype == "bfloat16" and "24.0 GB of RAM" in why
    assert choose_dtype("cpu", "bfloat16", WORKSTATION, wan)[0] == "float32"
    assert choose_dtype("cpu", "float16", LAPTOP, needs_of("animatediff"))[0] == "float32"
    assert choose_dtype("cpu", "float16", LAPTOP, None)[0] == "float32"   # previz, plug-ins


def test_pick_device_names_the_device_and_plans_its_memory():
    device = pick_device("auto", memory="auto", backend="animatediff", probe=AMPERE)
    assert (device.kind, device.name, device.plan.preset) == ("cuda", "RTX 3090 (sm_86)", "high")
    device = pick_device("auto", backend="wan-vace", probe=LAPTOP)
    assert device.kind == "cpu" and device.name == "cpu (8 threads)" and not device.offload


def test_pick_device_on_this_machine_is_the_cpu_or_a_gpu_torch_sees():
    import torch

    device = pick_device("auto", backend="previz")
    assert device.kind == ("cuda" if torch.cuda.is_available() else "cpu")


def test_the_request_and_take_record_carry_mps_and_the_dtype():
    request = GenerateRequest(device="mps", memory="low").check()
    assert "--device=mps" in request.to_arguments("b", "o") and "--memory=low" in request.to_arguments("b", "o")
    assert GenerateRequest.from_json(request.to_json()) == request
    record = DeviceRecord(kind="mps", name="Apple GPU (mps)", precision="float16", precision_reason="why")
    assert DeviceRecord.from_json(record.to_json()) == record
    old = {"kind": "cpu", "name": "cpu (2 threads)"}
    assert DeviceRecord.from_json(old).to_json() == old   # older takes round-trip byte for byte
    parameters = {"steps": 2, "device": "auto"}
    assert TakeParameters.from_json(parameters).to_json().keys() == TakeParameters().to_json().keys()
