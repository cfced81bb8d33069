from tests.generation.conftest import gen_settings, llm, server  # noqa: F401  (fixtures)
