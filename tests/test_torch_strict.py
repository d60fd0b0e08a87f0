"""``from_torch`` converts only what it can prove equal, and refuses the rest.

Generated MLPs of the torch.nn classes fastbp reads must convert to networks equal to
``module(X)``; the same MLPs with one module changed (a subclass with its own forward,
a hook, a parametrization, a forward set on the instance, an odd parameter) must be
refused with ValueError naming that module. PyTorch is not in the test extra (see
tests/test_interop.py): these tests skip without it on a developer machine and fail
under CI=true.
"""
import numpy as np
import pytest

import fastbp
from test_interop import need

torch = need("torch")

nn = torch.nn
ACTS = [nn.ReLU, nn.Sigmoid, nn.Tanh]


def random_mlp(rng, dtype=torch.float64):
    """(module, names of its leaves): nested Sequentials of Linear + one activation."""
    width = int(rng.integers(1, 7))
    act = ACTS[int(rng.integers(3))]
    leaves, n_layers = [], int(rng.integers(1, 4))
    for l in range(n_layers):
        out = int(rng.integers(1, 7))
        leaves.append(nn.Linear(width, out, bias=bool(rng.random() < 0.8), dtype=dtype))
        width = out
        if l < n_layers - 1:
            leaves.append(act())
        if rng.random() < 0.2:
            leaves.append([nn.Identity(), nn.Flatten(), nn.Dropout(0.3)][int(rng.integers(3))])
    if rng.random() < 0.3:
        leaves.append(nn.Softmax(dim=-1) if rng.random() < 0.5 else act())
    # Nest part of the chain.
    cut = int(rng.integers(0, len(leaves)))
    module = nn.Sequential(*leaves[:cut], nn.Sequential(*leaves[cut:])) \
        if rng.random() < 0.5 else nn.Sequential(*leaves)
    return module.eval(), leaves


def assert_equal_to_module(net, module, rng):
    X = rng.standard_normal((9, net.sizes[0]))
    with torch.no_grad():
        expected = module(torch.from_numpy(X.astype(net.dtype))).numpy()
    np.testing.assert_allclose(net.feedforward(X), expected, rtol=1e-10, atol=1e-12)


def test_plain_modules_convert_to_equal_networks():
    rng = np.random.default_rng(0)
    for _ in range(60):
        module, _ = random_mlp(rng)
        assert_equal_to_module(fastbp.Network.from_torch(module), module, rng)


# Ways to make one module compute something its class does not (or may not).
def subclass_with_forward(module):
    base = type(module)

    class Changed(base):
        def forward(self, x):
            return super().forward(x) * 2 + 0.5
    module.__class__ = Changed
    return "Changed"


def subclass_without_forward(module):
    module.__class__ = type("Renamed", (type(module),), {})
    return "Renamed"


def forward_hook(module):
    module.register_forward_hook(lambda m, args, out: out * 3)
    return "hook"


def forward_pre_hook(module):
    module.register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    return "hook"


def forward_hook_with_kwargs(module):
    module.register_forward_hook(lambda m, args, kwargs, out: out - 1, with_kwargs=True,
                                 always_call=True)
    return "hook"


def instance_forward(module):
    original = module.forward
    module.forward = lambda x: original(x) + 1
    return "instance"


CHANGES = [subclass_with_forward, subclass_without_forward, forward_hook,
           forward_pre_hook, forward_hook_with_kwargs, instance_forward]


def test_a_changed_module_is_refused_naming_it():
    rng = np.random.default_rng(1)
    for trial in range(90):
        module, leaves = random_mlp(rng)
        candidates = [(name, m) for name, m in module.named_modules()]
        name, target = candidates[int(rng.integers(len(candidates)))]
        CHANGES[trial % len(CHANGES)](target)
        with pytest.raises(ValueError) as info:
            fastbp.Network.from_torch(module)
        label = name if name else "module"
        assert label in str(info.value), (label, str(info.value))


PARAMETRIZATIONS = [
    lambda m: nn.utils.parametrizations.spectral_norm(m),
    lambda m: nn.utils.parametrizations.weight_norm(m),
    lambda m: nn.utils.spectral_norm(m),  # the older hook-based form
    lambda m: nn.utils.weight_norm(m),
    lambda m: nn.utils.parametrize.register_parametrization(m, "weight", Doubled()),
    lambda m: nn.utils.parametrize.register_parametrization(m, "bias", Doubled()),
]


class Doubled(nn.Module):
    def forward(self, w):
        return 2 * w


def test_parametrized_linears_are_refused():
    rng = np.random.default_rng(2)
    for trial in range(24):
        module, leaves = random_mlp(rng)
        linears = [(n, m) for n, m in module.named_modules() if type(m) is nn.Linear
                   and m.bias is not None]
        if not linears:
            continue
        name, target = linears[int(rng.integers(len(linears)))]
        with torch.no_grad():
            PARAMETRIZATIONS[trial % len(PARAMETRIZATIONS)](target)
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):
            fastbp.Network.from_torch(module)


def test_global_hooks_are_refused():
    module, _ = random_mlp(np.random.default_rng(3))
    for register in (nn.modules.module.register_module_forward_hook,
                     nn.modules.module.register_module_forward_pre_hook):
        handle = register(lambda *args: None)
        try:
            with pytest.raises(ValueError, match="global forward hooks"):
                fastbp.Network.from_torch(module)
        finally:
            handle.remove()
    fastbp.Network.from_torch(module)


def odd_parameters():
    def meta():
        return nn.Linear(3, 2, device="meta")

    def negative_bit():
        lin = nn.Linear(3, 2, dtype=torch.float64)
        lin.weight = nn.Parameter(torch.randn(2, 3, dtype=torch.float64)._neg_view(),
                                  requires_grad=False)
        return lin

    def complex_weight():
        lin = nn.Linear(3, 2)
        lin.weight = nn.Parameter(torch.randn(2, 3, dtype=torch.complex64))
        return lin

    def sparse_weight():
        lin = nn.Linear(3, 2)
        lin.weight = nn.Parameter(torch.randn(2, 3).to_sparse())
        return lin

    def integer_weight():
        lin = nn.Linear(3, 2)
        lin.weight = nn.Parameter(torch.ones(2, 3, dtype=torch.int64), requires_grad=False)
        return lin

    def bfloat16():
        return nn.Linear(3, 2, dtype=torch.bfloat16)

    def lazy():
        return nn.LazyLinear(2)

    return {"meta": meta, "negative bit": negative_bit, "complex": complex_weight,
            "sparse": sparse_weight, "int64": integer_weight, "bfloat16": bfloat16,
            "lazy": lazy}


@pytest.mark.parametrize("kind", sorted(odd_parameters()))
def test_odd_parameters_are_refused_or_read_exactly(kind):
    lin = odd_parameters()[kind]()
    for module in (lin, nn.Sequential(nn.Sequential(lin), nn.ReLU())):
        if kind == "negative bit":  # the values are exact once the bit is resolved
            assert_equal_to_module(fastbp.Network.from_torch(module), module,
                                   np.random.default_rng(4))
            continue
        with pytest.raises(ValueError, match="unsupported layer"):
            fastbp.Network.from_torch(module)
    if kind == "bfloat16":  # with a dtype asked for, read exactly
        net = fastbp.Network.from_torch(lin, dtype="float64")
        np.testing.assert_array_equal(net.weights[0], lin.weight.detach().double().numpy())


def test_deep_nesting_is_read_without_recursion():
    inner = nn.Sequential(nn.Linear(4, 3, dtype=torch.float64), nn.Tanh())
    module = inner
    for _ in range(3 * 1000):
        module = nn.Sequential(module)
    net = fastbp.Network.from_torch(module)
    assert_equal_to_module(net, inner, np.random.default_rng(5))


def test_empty_slot_in_a_sequential_is_refused():
    module = nn.Sequential(nn.Linear(3, 2))
    module.register_module("1", None)
    with pytest.raises(ValueError, match="empty slot"):
        fastbp.Network.from_torch(module)
