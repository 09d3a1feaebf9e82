"""The media engine: probing and validating recordings (probe), running ffmpeg (ffmpeg), and
turning a recording into the replay's MP4, poster, thumbnail sprite and the analysis WAV
(pipeline). Jobs, storage and encryption live elsewhere and call into these."""
