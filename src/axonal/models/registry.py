"""A name -> builder registry: ``create_model("sew_resnet_tiny", num_classes=10)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn

__all__ = ["create_model", "list_models", "register_model"]

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Builder], Builder]:
    """Decorator registering a builder ``(**kwargs) -> nn.Module`` under ``name``.

    Raises ``ValueError`` if ``name`` is empty or already taken.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a model name must be a non-empty str, got {name!r}")

    def decorate(builder: Builder) -> Builder:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder

    return decorate


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the model registered as ``name``, passing ``kwargs`` to its builder."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _BUILDERS[name](**kwargs)


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_BUILDERS)
