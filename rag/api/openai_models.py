"""The subset of OpenAI's chat-completions request the facade reads.

Unknown fields are accepted and ignored, so stock OpenAI clients work unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Model ids look like ``rag:<collection>``; a bare collection name works too.
MODEL_PREFIX = "rag:"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message text (the text parts of a multi-part content)."""
        if isinstance(self.content, list):
            return "\n".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(description="'rag:<collection>' or the collection name.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0)

    def collection(self) -> str:
        return self.model[len(MODEL_PREFIX):] if self.model.startswith(MODEL_PREFIX) else self.model

    def question(self) -> str:
        """The last user message."""
        return next((m.text() for m in reversed(self.messages) if m.role == "user"), "")
