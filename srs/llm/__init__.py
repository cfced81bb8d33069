"""Provider adapters: an LLMRequest in, a stream of TextDelta events and one Usage out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from srs.llm.anthropic import AnthropicProvider
from srs.llm.base import LLMError, LLMProvider, LLMRequest, StreamEvent, TextDelta, Usage
from srs.llm.openai import OpenAIProvider

if TYPE_CHECKING:
    from srs.kit.settings import Settings

__all__ = [
    "AnthropicProvider",
    "LLMError",
    "LLMProvider",
    "LLMRequest",
    "OpenAIProvider",
    "StreamEvent",
    "TextDelta",
    "Usage",
    "build_provider",
]

NOT_CONFIGURED = (
    "No LLM provider is configured. Set SRS_LLM_PROVIDER=openai with "
    "SRS_LLM_BASE_URL/SRS_LLM_API_KEY/SRS_LLM_MODEL, or install the embedded model with "
    "pip install '.[local]'."
)


def build_provider(settings: Settings) -> LLMProvider:
    """The one provider the settings name. There is no fallback: a silent switch of model
    would put cards of another quality, and cost, under the user's name."""
    if settings.llm_provider == "local":
        from srs.llm.local import LocalProvider  # imports nothing heavy until first use

        return LocalProvider(
            threads=settings.local_threads,
            local_model=settings.local_model,
            cache_dir=settings.local_model_dir,
        )
    if settings.llm_provider in ("openai", "anthropic"):
        provider_class = OpenAIProvider if settings.llm_provider == "openai" else AnthropicProvider
        return provider_class(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            model=settings.llm_model,
            connect_timeout=settings.llm_connect_timeout,
            chunk_timeout=settings.llm_chunk_timeout,
            deadline=settings.llm_deadline,
            max_retries=settings.llm_max_retries,
        )
    raise LLMError("not_configured", NOT_CONFIGURED, retryable=False)
