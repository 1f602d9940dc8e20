"""A stage for test_cpp_host.py: writes every frame it sees to the file named by its `output`
parameter (the test reads it back after the vstream tool exits)."""

import threading


class FileRecorder:
    def open(self, params):
        self.lock = threading.Lock()
        self.file = open(params["output"], "w")

    def process(self, frame):
        with self.lock:
            self.file.write(f"{frame.stream_id}:{frame.frame_index}\n")

    def on_eos(self, stream_id):
        with self.lock:
            self.file.write(f"eos:{stream_id}\n")

    def close(self):
        self.file.close()
