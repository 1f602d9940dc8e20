"""Python pipeline stages the tests run through PyModule (pyclass_name "stages.<Class>")."""

import threading

import numpy as np


class Recorder:
    """Records every frame it sees (stream_id, frame_index) and every stream that ended."""

    def open(self, params):
        self.params = dict(params)
        self.frames = []
        self.eos = []
        self.closed = False
        self.threads = set()

    def process(self, frame):
        self.frames.append((frame.stream_id, frame.frame_index))
        self.threads.add(threading.get_ident())

    def on_eos(self, stream_id):
        self.eos.append(stream_id)

    def close(self):
        self.closed = True


class Painter:
    """Writes a marker into every frame's pixels through frame.image, and remembers the address."""

    writes_pixels = True

    def open(self, params):
        self.addresses = {}

    def process(self, frame):
        image = frame.image
        image[0, 0, :] = (frame.frame_index % 200, 7, 9)
        self.addresses[(frame.stream_id, frame.frame_index)] = image.__array_interface__["data"][0]
        frame.data["painted"] = True


class Checker:
    """Reads what Painter wrote: the marker in the pixels and the array's address."""

    def open(self, params):
        self.seen = {}

    def process(self, frame):
        image = frame.image
        self.seen[(frame.stream_id, frame.frame_index)] = (
            tuple(int(v) for v in image[0, 0, :]),
            image.__array_interface__["data"][0],
            frame.data.get("painted"),
        )


class Labeler:
    """Adds one object per frame and user data of every built-in type."""

    def process(self, frame):
        frame.add_object(vstreamobject(frame.frame_index))
        frame.data["text"] = "hello"
        frame.data["count"] = frame.frame_index
        frame.data["ratio"] = 0.5
        frame.data["vector"] = [1.0, 2.5]
        frame.data["blob"] = b"\x00\x01"


def vstreamobject(index):
    import vstream

    return vstream.DetectedObject(label="thing", label_id=3, score=0.75, box=(0.1, 0.2, 0.3, 0.4),
                                  track_id=index, attributes={"color": "red"}, features={"f": [1.0, 2.0]})


class ObjectReader:
    """Keeps what Labeler left on each frame, and keeps only objects with an even track id."""

    def open(self, params):
        self.objects = {}
        self.data = {}

    def process(self, frame):
        objects = frame.objects
        key = (frame.stream_id, frame.frame_index)
        self.objects[key] = [(o.label, o.label_id, o.score, o.box, o.track_id, o.attributes, o.features)
                             for o in objects]
        self.data[key] = {k: frame.data[k] for k in frame.data.keys()}
        frame.objects = [o for o in objects if o.track_id % 2 == 0]


class Failer:
    """Raises on every third frame; returns False on frame 4."""

    def process(self, frame):
        if frame.frame_index == 4:
            return False
        if frame.frame_index % 3 == 1:
            raise ValueError(f"no good: frame {frame.frame_index}")
        return None


class Returner:
    """Returns a value of another kind on each frame: numpy's bools and numbers, floats, a string,
    a numpy array (whose truth is ambiguous)."""

    VALUES = [np.bool_(True), np.bool_(False), np.int64(3), np.int64(-1), 0.5, -0.5, "yes",
              np.array([True, False]), None]

    def process(self, frame):
        return self.VALUES[frame.frame_index % len(self.VALUES)]


class BrokenOpen:
    def open(self, params):
        raise RuntimeError("cannot open: " + params.get("why", "?"))

    def process(self, frame):
        pass


class EndFailer:
    """Raises in on_eos and in close()."""

    def process(self, frame):
        pass

    def on_eos(self, stream_id):
        raise KeyError(stream_id)

    def close(self):
        raise OSError("close failed")


class Interrupter:
    """Interrupts the main thread (as Ctrl-C would) once frames flow."""

    def process(self, frame):
        if frame.frame_index == 5:
            import _thread

            _thread.interrupt_main()
