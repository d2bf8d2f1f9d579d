"""fmi/run/interface/config_words.py: a setting's type and bounds in words, one wording for errors and
--print-config, and the paper's differences in one line."""
from typing import Annotated, Literal, Optional

import pydantic
import pytest

from fmi.run.interface import config_words


@pytest.mark.parametrize("annotation, words", [
    (int, "an integer"), (Annotated[int, pydantic.Field(ge=1)], "an integer, 1 or more"),
    (Annotated[float, pydantic.Field(gt=0.0)], "a number, more than 0"),
    (Annotated[float, pydantic.Field(ge=0, lt=1)], "a number, 0 or more, less than 1"),
    (Optional[Annotated[int, pydantic.Field(ge=1, le=1024)]], "an integer, 1 or more, at most 1024, or null"),
    (Literal["avg", "max"], "one of avg, max"), (list[Annotated[int, pydantic.Field(ge=0)]],
                                                 "a list of integers, each 0 or more"),
    (bool, "true or false"), (dict[str, str], "a mapping of names to strings")])
def test_what_a_setting_may_be_in_words(annotation, words):
    assert config_words.words(annotation) == words


def test_an_error_says_a_bound_as_print_config_does():
    class Model(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(strict=True)
        rate: Annotated[float, pydantic.Field(gt=0.0)] = 1.0
        steps: Annotated[int, pydantic.Field(ge=1)] = 1

    for key, value, bound in (("rate", 0.0, "more than 0"), ("steps", -3, "1 or more")):
        with pytest.raises(pydantic.ValidationError) as refused:
            Model.model_validate({key: value})
        line = config_words.message(Model, refused.value.errors()[0], {(): "config x"})
        assert line == f"config x: key {key!r} must be {bound}, got {value}"
        assert bound in config_words.words(Model.model_fields[key].annotation, Model.model_fields[key].metadata)


def test_the_paper_s_differences_in_one_line():
    differences = [("max_long_edge", 32, 512), ("layers", ["relu1_1"], ["relu1_1", "relu3_1"]), ("fidelity", "a", "p")]
    assert config_words.describe_differences([], "Fig. 6") == "the paper's settings of Fig. 6"
    assert config_words.describe_differences(differences, "Fig. 6", 2) == (
        "differs from the paper's Fig. 6: max_long_edge 32 (paper 512); layers [relu1_1] (paper [relu1_1, relu3_1]); "
        "and 1 more (record.json)")
