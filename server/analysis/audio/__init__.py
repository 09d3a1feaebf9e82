"""Audio helpers shared by the analyzers: one small module per job.

- `wav`: read the media job's 16 kHz mono s16le WAV in bounded-memory chunks.
- `levels`: loudness per short frame and the silences it shows.
- `utterances`: cut a stream of speech/non-speech frames into utterances for a decoder.
- `pitch`: fundamental frequency per frame (autocorrelation, numpy).
- `text`: normalise transcripts for comparison (WER, question matching).
- `wer`: word error rate and finding a known sentence (a question) inside a transcript.
- `turns`: the interviewer's questions and the candidate's answers in a transcript, without diarization.

Only `levels` and `pitch` import NumPy; plugin modules import them inside `run`, on the worker.
"""
