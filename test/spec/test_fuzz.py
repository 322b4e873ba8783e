"""Random mutations of a valid spec are accepted or refused with SpecError, never a crash."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slm_lab.experiment.run import preflight
from slm_lab.lib.errors import LabError
from slm_lab.spec import SpecError
from slm_lab.spec.validate import validate
from test.conftest import tiny_a2c, tiny_dqn, tiny_ppo, tiny_sac

LEAVES = st.one_of(
    st.sampled_from([0, -1, 1, 0.5, 10**12, "", "tanh", "Adam", True]),
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(-5, 300), max_size=3),
    st.dictionaries(
        st.sampled_from(["name", "lr", "start_val", "x"]), st.integers(0, 5), max_size=2
    ),
)


def paths(node, prefix=()):
    """Every key path of nested dicts, containers included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))


FAMILIES = {"ppo": tiny_ppo, "dqn": tiny_dqn, "a2c": tiny_a2c, "sac": tiny_sac}
SPEC_PATHS = sorted(paths(tiny_ppo()))


def mutate(spec: dict, path: tuple, value) -> dict:
    node = spec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return spec


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=LEAVES, extra=st.booleans())
def test_mutated_specs_never_crash(family, data, value, extra):
    build = FAMILIES[family]
    path = data.draw(st.sampled_from(sorted(paths(build()))))
    check_mutation(build(), path, value, extra)


def check_mutation(spec: dict, path: tuple, value, extra: bool) -> None:
    spec = mutate(spec, path, value)
    if extra:  # also an unknown key beside the mutated one
        mutate(spec, (*path[:-1], "zz_unknown"), 1)
    try:
        validated, warnings = validate(spec)
    except SpecError as e:
        assert "\n" not in str(e) and str(e)
        return
    assert isinstance(validated["env"]["max_frame"], int)
    assert all(isinstance(w, str) for w in warnings)
    try:  # what validation lets through must also build, or be refused in one line
        preflight(validated)
    except LabError as e:  # a SpecError, or a ResourceError for what cannot fit
        assert "\n" not in str(e) and str(e)


def test_fuzz_covers_every_section():
    assert {p[0] for p in SPEC_PATHS} == {"agent", "env", "meta"}
    assert len(SPEC_PATHS) > 20
