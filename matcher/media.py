"""Hash one uploaded file (an image or a video) with every signal type that applies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from matcher.decode import Limits, decode_image
from matcher.pdq import PDQ_MAX_SIDE
from matcher.signals import Media, Registry, Signal
from matcher.variants import MIN_QUALITY, bank_parts, exact_variants, is_detailed
from matcher.video import hash_video, hash_video_orientations, sniff_video


def warm_up() -> None:
    """Run in each hashing process at start-up, so the first upload does not pay for
    the imports the hashers make on first use."""
    import av  # noqa: F401


def hash_file(
    data: bytes,
    registry: Registry,
    limits: Limits,
    variants: bool = False,
    parts: bool = False,
) -> list[Signal]:
    """Decode `data` as a video or an image and return one signal per applicable type,
    then, with `variants`, the query-side candidates (mirrored, trimmed, ...) of each type.
    With `parts` (a file going into a bank), an image's pdq signal carries the parts of
    the picture (crops, caption bands, small rotations; see `matcher.variants.bank_parts`)
    when it has the quality and detail they need.

    The bytes, pixels and frames live only in this call's memory and are dropped on return.
    """
    media = decode_media(data, limits, variants)
    if variants:
        every = [signal_type.hash_variants(media) for signal_type in registry]
        # Each file's own hashes first, in registry order, then the candidates.
        return [s for group in every for s in group if s.variant is None] + [
            s for group in every for s in group if s.variant is not None
        ]
    signals = [s for t in registry if (s := t.hash_media(media)) is not None]
    if parts and media.rgb is not None and is_detailed(media.rgb):
        # A weak or flat picture's parts would be weak or flat too, and collide as it does.
        signals = [
            replace(s, parts=tuple(bank_parts(media.rgb)))
            if s.signal_type == "pdq" and (s.quality or 0) >= MIN_QUALITY
            else s
            for s in signals
        ]
    return signals


def decode_media(data: bytes, limits: Limits, orientations: bool = False) -> Media:
    """A video's frame hashes (in each orientation too, with `orientations`), or an
    image's pixels, by what the leading bytes say the file is."""
    if sniff_video(data) is None:
        return Media(data=data, rgb=decode_image(data, limits, PDQ_MAX_SIDE))
    if orientations:
        return Media(data=data, video=hash_video_orientations(data, limits))
    return Media(data=data, video={"original": hash_video(data, limits)})


def second_look(data: bytes, limits: Limits, names: Sequence[str]) -> list[Signal]:
    """The pdq candidates `names` of a file, each hashed on the picture turned back as it
    was (see `matcher.variants.exact_variants`): for candidates that came close."""
    rgb = decode_image(data, limits, PDQ_MAX_SIDE)
    return [
        Signal("pdq", variant.code.hex(), variant.quality, variant.name)
        for variant in exact_variants(rgb, names)
    ]
