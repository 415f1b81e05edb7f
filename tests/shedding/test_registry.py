import pytest

from shedding.errors import ConfigError
from shedding.registry import Registry


def test_register_get_and_list():
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)

    @reg.register("b")
    def b():
        return 2

    assert reg.get("a") == 1 and reg.get("B") is b and reg.names() == ["a", "b"] and "a" in reg


def test_duplicate_and_unknown_names_raise():
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", 2)
    with pytest.raises(ConfigError, match="unknown thing 'c'; valid choices: a"):
        reg.get("c")
    with pytest.raises(ValueError, match="lowercase"):
        reg.add("Upper", 3)
