#!/usr/bin/python3
"""An RTSP server on 127.0.0.1 for the DataSource tests, on GStreamer's RTSP server library.

    /usr/bin/python3 rtsp_server.py PORT FILE.mp4

Serves FILE.mp4 (H.264 in MP4, made by the test with the ffmpeg CLI) in real time at
rtsp://127.0.0.1:PORT/live, to any number of clients, each from the start. Prints "listening"
once the port is bound, runs until killed. Exits with status 2 and a line on stderr that names
the missing package when this machine lacks what it needs (scripts/deps.sh installs it).
"""
import sys

NEEDS = ("python3-gi, gir1.2-gstreamer-1.0, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-rtsp and "
         "gstreamer1.0-plugins-good (scripts/deps.sh installs them)")


def fail(what):
    print("rtsp_server.py: %s; the RTSP tests need %s" % (what, NEEDS), file=sys.stderr, flush=True)
    sys.exit(2)


def main():
    if len(sys.argv) != 3:
        print("usage: rtsp_server.py PORT FILE.mp4", file=sys.stderr)
        sys.exit(1)
    port, path = sys.argv[1], sys.argv[2]
    try:
        import gi
        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer
    except (ImportError, ValueError) as error:
        fail("cannot load GStreamer's RTSP server through GObject introspection (%s)" % error)
    Gst.init(None)
    for element in ("filesrc", "qtdemux", "rtph264pay"):
        if Gst.ElementFactory.find(element) is None:
            fail("GStreamer has no '%s' element" % element)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    location = path.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch('( filesrc location="%s" ! qtdemux ! rtph264pay name=pay0 pt=96 config-interval=1 )' % location)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        fail("cannot listen on 127.0.0.1:%s" % port)
    print("listening", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
