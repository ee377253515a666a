"""python -m fcnseg.data.convert: the name `python -m fcnseg.convert` had before the commands
moved out of the data package; it runs that command."""

import runpy

if __name__ == "__main__":
    runpy.run_module("fcnseg.convert", run_name="__main__", alter_sys=True)
