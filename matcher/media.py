"""Hash one uploaded file with every signal type that applies to it."""

from __future__ import annotations

from matcher.decode import Limits, decode_image
from matcher.pdq import PDQ_MAX_SIDE
from matcher.signals import Media, Registry, Signal


def hash_file(data: bytes, registry: Registry, limits: Limits) -> list[Signal]:
    """Decode `data` as an image and return one signal per applicable type.

    The bytes and pixels live only in this call's memory and are dropped on return.
    """
    media = Media(data=data, rgb=decode_image(data, limits, PDQ_MAX_SIDE))
    signals = []
    for signal_type in registry:
        signal = signal_type.hash_media(media)
        if signal is not None:
            signals.append(signal)
    return signals
