"""MLLP framing: <VT> message <FS><CR>. https://www.hl7.org/implement/standards/product_brief.cfm?product_id=55

`FrameDecoder` is fed whatever TCP delivers (a part of a frame, several frames at once)
and returns the complete frames. Bytes before a start byte are dropped; a frame that grows
beyond the size limit is dropped and the decoder waits for the next start byte.
"""

from __future__ import annotations

START = b"\x0b"
END = b"\x1c"
CR = b"\x0d"


def frame(payload: bytes) -> bytes:
    """Wrap one payload in an MLLP block."""
    return START + payload + END + CR


class FrameDecoder:
    """Incremental MLLP decoder with a size limit; counts what it had to throw away."""

    def __init__(self, max_frame_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self.garbage_bytes = 0
        self.oversized_frames = 0

    @property
    def in_frame(self) -> bool:
        """True while part of a frame has arrived and its end has not."""
        return self._in_frame

    def feed(self, data: bytes) -> list[bytes]:
        """Take the next bytes of the stream; return every frame they complete, in order."""
        frames: list[bytes] = []
        view = memoryview(data)
        position = 0
        while position < len(view):
            if not self._in_frame:
                start = data.find(START, position)
                if start < 0:
                    self.garbage_bytes += len(view) - position
                    break
                self.garbage_bytes += start - position
                self._in_frame, position = True, start + 1
                self._buffer.clear()
                continue
            end = data.find(END, position)
            chunk_end = len(view) if end < 0 else end
            restart = data.find(START, position, chunk_end)
            if restart >= 0:  # a new frame began before this one ended: the partial one is lost
                self.garbage_bytes += len(self._buffer) + restart - position
                self._buffer.clear()
                position = restart + 1
                continue
            if self._too_big(chunk_end - position):
                continue  # dropped: look for the next start byte after this point
            self._buffer += view[position:chunk_end]
            if end < 0:
                break
            frames.append(bytes(self._buffer))
            self._buffer.clear()
            self._in_frame = False
            position = end + 1
            if position < len(view) and view[position] == CR[0]:
                position += 1
        # a CR that ends a frame may arrive alone in the next read: it is then harmless garbage
        return frames

    def _too_big(self, more: int) -> bool:
        if len(self._buffer) + more <= self.max_frame_bytes:
            return False
        self.oversized_frames += 1
        self._buffer.clear()
        self._in_frame = False
        return True
