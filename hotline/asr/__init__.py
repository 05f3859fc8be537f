"""Offline transcription with Vosk. Rule: no audio leaves the machine and nothing is
downloaded at run time; the model is a directory the operator unpacked and configured.

transcript.py  plain frozen types of a transcript and the text normalization (pure)
vosk.py        the only module that imports vosk: model check and loading, recognizers
audio_input.py recordings -> 16 kHz mono 16-bit PCM per channel, through ffmpeg
transcribe.py  a file -> a Transcript, and a thread pool over many files
"""
