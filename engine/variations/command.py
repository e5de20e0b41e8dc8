"""`python -m engine variations BUNDLE --out DIR --count N [generate's flags] [--key-frames K] [--tile-width W]`.

Exit codes as `generate`'s: 0 done, 1 a clear error (one line on stderr and an `error` event),
2 bad arguments, 130 cancelled (the unfinished variations folder removed).
"""

import sys
import traceback

from ..bundle.variations_record import DEFAULT_COUNT, DEFAULT_KEY_FRAMES, DEFAULT_TILE_WIDTH


def add_variation_arguments(parser):
    """The flags `variations` has beyond generate's request flags."""
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT,
                        help=f"how many looks, seeds --seed .. --seed+N-1 (default: {DEFAULT_COUNT})")
    parser.add_argument("--key-frames", type=int, default=DEFAULT_KEY_FRAMES,
                        help=f"frames of the shot each tile shows, spread evenly (default: {DEFAULT_KEY_FRAMES})")
    parser.add_argument("--tile-width", type=int, default=DEFAULT_TILE_WIDTH,
                        help=f"width of one key frame in a tile, px (default: {DEFAULT_TILE_WIDTH})")
    return parser


def run_variations(args):
    from ..backends.device import DeviceError
    from ..backends.models import ModelError
    from ..bundle import BundleError, events
    from ..bundle.request import GenerateRequest, RequestUsageError
    from ..generate import RequestError
    from ..progress import CancelToken, Cancelled, Progress
    from ..takes import TakeError
    from .run import Variations

    progress, cancel, variations = Progress(), CancelToken(args.cancel_file).install(), None
    request = GenerateRequest.from_arguments(args)
    try:
        variations = Variations(request, args.bundle, args.out, progress, cancel, count=args.count,
                                key_frames=args.key_frames, tile_width=args.tile_width)
        folder = variations.run()
    except Cancelled as exc:
        progress.emit(events.CancelledEvent(take=variations and variations.current_take,
                                            message="unfinished variations removed"))
        print(f"engine: {exc}; the unfinished variations were removed", file=sys.stderr)
        return 130
    except RequestUsageError as exc:
        progress.emit(events.ErrorEvent(take=None, message=str(exc)))
        print(f"engine: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # every failure becomes an `error` event the caller can show
        expected = (BundleError, ModelError, RequestError, TakeError, DeviceError, ValueError, OSError)
        progress.emit(events.ErrorEvent(take=variations and variations.current_take, message=str(exc)))
        if not isinstance(exc, expected):
            traceback.print_exc()
        print(f"engine: error: {exc}", file=sys.stderr)
        return 1
    finally:
        cancel.uninstall()
    progress.emit(events.FinishedEvent(takes=[str(folder)]))
    return 0
