"""python -m fcnseg.serve_web: serve the page `python -m fcnseg.export --web` wrote, on this computer.

    python -m fcnseg.serve_web --web_dir=serving/road/web
    # then open http://127.0.0.1:8000/ (add ?model=int8_cpu for the int8 file)

The page is served cross-origin isolated (COOP/COEP headers), so ONNX Runtime Web runs
its WebAssembly on several threads; browsers give the webcam to pages on localhost.
"""

from absl import app, flags

from fcnseg.cli import one_line_errors, start
from fcnseg.deploy.web_server import make_server

flags.DEFINE_string("web_dir", None, "The page's folder: <export_dir>/web.", required=True)
flags.DEFINE_string("host", "127.0.0.1", "The address to listen on (0.0.0.0: every interface).")
flags.DEFINE_integer("port", 8000, "The port to listen on.")
FLAGS = flags.FLAGS


def main(argv):
    start(argv)
    with one_line_errors():
        server = make_server(FLAGS.web_dir, FLAGS.host, FLAGS.port)
    host, port = server.server_address[:2]
    print(f"Serving {FLAGS.web_dir} at http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    app.run(main)
