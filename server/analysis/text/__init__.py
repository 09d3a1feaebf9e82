"""Text helpers shared by the transcript analyzers (questions, language).

Everything here works on the speech-to-text part (contract.STT_PART): words with start and end
times. Tokens are the unit of comparison: a lower-cased word for alphabetic scripts, one character
for Chinese (and other CJK) text, where words are not separated by spaces and ASR word boundaries
are unreliable. Each token keeps the time of the word it came from, so every match found in text
becomes a moment in the recording.
"""
