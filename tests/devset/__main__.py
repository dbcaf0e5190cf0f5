"""The transcription benchmark over the dev set (``python -m tests.devset --channels …``):
``benchmarks.transcription``'s options; the dev set lives here, beside the tests that use it."""

from benchmarks.transcription import main
from tests.devset import DEV_SET, DIRECTORY

if __name__ == "__main__":
    main(DEV_SET, DIRECTORY, "dev set", "tests.devset")
