"""The voicemail dev set: sentences a caller leaves after the beep, and who works here.

Each utterance is spoken by espeak-ng in one of several English voices and
speeds, resampled to 8 kHz and passed through our own G.711 µ-law codec (the
product's real path: ``benchmarks.transcription.speak_through_phone``). Audio is
made at test time from this list (about 0.2 s per sentence), so the repo holds
text only. Decoding choices in :mod:`pipeline.transcription_decoding` were tuned
on this set; the benchmark's held-out set (``benchmarks/transcription.py``) was
never looked at while tuning.

``DIRECTORY`` plays the tenant's users: the names the prompt carries, as the
worker passes them from the provisioning store.
"""

from __future__ import annotations

from benchmarks.transcription import Utterance

# The tenant's user names (mailbox owner first), as the prompt gets them.
DIRECTORY: tuple[str, ...] = (
    "Linda Patel",
    "Marcus Okafor",
    "Priya Raman",
    "Tom Becker",
    "Sofia Lindqvist",
    "Kenji Watanabe",
)

_V = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp", "en-us-nyc", "en-gb-scotland+f2")
_S = (140, 160, 175)

_TEXTS: tuple[str, ...] = (
    "Hi Linda, this is Marcus Okafor, please call me back at 555 0147.",
    "Hello, this message is for Priya Raman about the contract renewal on March 14th.",
    "Hi Tom, it's Sofia, the delivery is booked for Tuesday between nine and eleven.",
    "This is Kenji Watanabe from Northwind, my number is 415 555 0192, thanks.",
    "Linda, the invoice number is 7719 and the total is 320 dollars.",
    "Hi, this is Dr. Patel's office confirming your appointment on Friday at 2:30.",
    "Please call me back before 5 o'clock today, it is about the server outage.",
    "Good morning Marcus, the meeting with the auditors moved to Thursday the 21st.",
    "Hey Priya, I'm running about 15 minutes late, see you at the station.",
    "Hi, I'm calling about order 4821, it still hasn't arrived, please call 555 0163.",
    "Tom, the quote for the kitchen is 12,500 dollars, let me know if that works.",
    "This is a reminder that your payment of 89 dollars is due on June 3rd.",
    "Hello Sofia, this is the bank, please call us back on 800 555 0110.",
    "Hi Kenji, the shipment left the warehouse this morning and should arrive Monday.",
    "Linda, can you send me the slides from yesterday's presentation before noon?",
    "Hi, this is Anna from the dental clinic, we need to reschedule your visit.",
    "Marcus, the printer on the third floor is broken again, can you call IT?",
    "Priya, your car is ready, the bill comes to 245 dollars, we close at 6.",
    "Hi Tom, it's Becky, call me when you get this, my cell is 555 0178.",
    "Good afternoon, I'm returning your call about the apartment on Maple Street.",
    "Sofia, the flight lands at 7:45 on Sunday, gate 22, I'll text you.",
    "This is Kenji again, I forgot to say the password reset code is 3 0 9 6.",
    "Hello, this is Linda Patel, I'd like to order two more boxes of paper.",
    "Hi, we're calling from the pharmacy, your prescription is ready for pickup.",
    "Marcus, please sign the lease and send it back by the 30th of April.",
    "Priya, the conference call is at 10 tomorrow, the access code is 4 4 2 1.",
    "Hi Tom, just checking if we're still on for lunch on Wednesday at noon.",
    "This message is for Sofia Lindqvist, your package needs a signature, call 555 0105.",
    "Kenji, budget numbers are in, we are 8 percent over for the second quarter.",
    "Hi Linda, it's your neighbour, your dog got out again, he's with us now.",
    "Hello, this is the school nurse, please call me back about your daughter.",
    "Marcus, the client wants the report by Monday the 9th, call me tonight.",
)

DEV_SET: tuple[Utterance, ...] = tuple(
    Utterance(text, _V[i % len(_V)], _S[i % len(_S)]) for i, text in enumerate(_TEXTS)
)
