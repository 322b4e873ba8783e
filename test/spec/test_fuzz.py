"""Random mutations of a valid spec are accepted or refused with SpecError, never a crash."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slm_lab.experiment.control import preflight
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


SPEC_PATHS = sorted(paths(tiny_ppo()))
DQN_PATHS = sorted(paths(tiny_dqn()))
A2C_PATHS = sorted(paths(tiny_a2c()))
SAC_PATHS = sorted(paths(tiny_sac()))


def mutate(spec: dict, path: tuple, value) -> dict:
    node = spec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return spec


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(SPEC_PATHS), value=LEAVES, extra=st.booleans())
def test_mutated_specs_never_crash(path, value, extra):
    check_mutation(tiny_ppo(), path, value, extra)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(DQN_PATHS), value=LEAVES, extra=st.booleans())
def test_mutated_value_based_specs_never_crash(path, value, extra):
    check_mutation(tiny_dqn(), path, value, extra)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(A2C_PATHS), value=LEAVES, extra=st.booleans())
def test_mutated_actor_critic_specs_never_crash(path, value, extra):
    check_mutation(tiny_a2c(), path, value, extra)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(SAC_PATHS), value=LEAVES, extra=st.booleans())
def test_mutated_soft_actor_critic_specs_never_crash(path, value, extra):
    check_mutation(tiny_sac(), path, value, extra)


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
    try:  # what validation lets through must also build, or be refused as a SpecError
        preflight(validated)
    except SpecError as e:
        assert "\n" not in str(e) and str(e)


def test_fuzz_covers_every_section():
    assert {p[0] for p in SPEC_PATHS} == {"agent", "env", "meta"}
    assert len(SPEC_PATHS) > 20
