import warnings

import pytest
from gymnasium.utils.env_checker import check_env

# check_env's advice that is not an error: a task's own action range (e.g. [-10, 10] N)
# and unbounded velocity observations (CartPole-v1 has them too).
ADVISORY = ("symmetric and normalized space", "infinity. This is probably")


def _serious_warnings(env, advisory=ADVISORY):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    return [str(w.message) for w in caught if not any(text in str(w.message) for text in advisory)]


@pytest.fixture
def serious_warnings():
    """Run check_env on an env; return the warnings that are not advisory (should be [])."""
    return _serious_warnings
