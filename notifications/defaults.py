"""What every practice starts with: one template per message key and channel, and the reminder
rules "email 48 hours before" and "SMS 24 hours before". Installed by
`notifications.services.notifications_install_defaults` (a practice setup hook) and lazily for
practices created before this module existed.

Bodies carry logistics only (date, time, location, clinician's name) — never clinical detail.
"""

from __future__ import annotations

from notifications.models import Channel, MessageTemplate

K = MessageTemplate.Key

# (key, channel, subject, body)
DEFAULT_TEMPLATES: list[tuple[str, str, str, str]] = [
    (
        K.REMINDER,
        Channel.SMS,
        "",
        "{{ practice_name }}: reminder of your appointment on {{ weekday }} {{ date }} at {{ time }} ({{ timezone }}). "
        "Reply C to confirm, R to reschedule, STOP to opt out.",
    ),
    (
        K.REMINDER,
        Channel.EMAIL,
        "Appointment reminder: {{ weekday }} {{ date }} at {{ time }}",
        "Hello {{ patient_first_name }},\n\nThis is a reminder of your appointment with {{ practice_name }} on "
        "{{ weekday }} {{ date }} at {{ time }} ({{ timezone }}).\nWith: {{ clinician }}\nWhere: {{ location }}\n\n"
        "To change it, call us at {{ practice_phone }}.\n",
    ),
    (
        K.CONFIRMATION,
        Channel.SMS,
        "",
        "{{ practice_name }}: you are booked for {{ weekday }} {{ date }} at {{ time }} ({{ timezone }}).",
    ),
    (
        K.CONFIRMATION,
        Channel.EMAIL,
        "Your appointment on {{ date }}",
        "Hello {{ patient_first_name }},\n\nYou are booked with {{ practice_name }} on {{ weekday }} {{ date }} at "
        "{{ time }} ({{ timezone }}).\nWith: {{ clinician }}\nWhere: {{ location }}\n\nQuestions: {{ practice_phone }}.\n",
    ),
    (
        K.CANCELLATION,
        Channel.SMS,
        "",
        "{{ practice_name }}: your appointment on {{ date }} at {{ time }} is cancelled. Call {{ practice_phone }}.",
    ),
    (
        K.CANCELLATION,
        Channel.EMAIL,
        "Appointment cancelled: {{ date }}",
        "Hello {{ patient_first_name }},\n\nYour appointment with {{ practice_name }} on {{ weekday }} {{ date }} at "
        "{{ time }} is cancelled. To book another time, call {{ practice_phone }}.\n",
    ),
    (
        K.WAITLIST_OFFER,
        Channel.SMS,
        "",
        "{{ practice_name }}: an appointment opened on {{ weekday }} {{ date }} at {{ time }} ({{ timezone }}). "
        "Take it: {{ link }}",
    ),
    (
        K.WAITLIST_OFFER,
        Channel.EMAIL,
        "An earlier appointment is available",
        "Hello {{ patient_first_name }},\n\nAn appointment with {{ practice_name }} opened on {{ weekday }} "
        "{{ date }} at {{ time }} ({{ timezone }}). The first to accept gets it:\n{{ link }}\n",
    ),
    (
        K.WAITLIST_TAKEN,
        Channel.SMS,
        "",
        "{{ practice_name }}: the {{ date }} {{ time }} opening has been taken. You stay on the waitlist.",
    ),
    (
        K.WAITLIST_TAKEN,
        Channel.EMAIL,
        "The opening has been taken",
        "Hello {{ patient_first_name }},\n\nThe opening on {{ date }} at {{ time }} has been taken. "
        "You stay on our waitlist.\n",
    ),
    (
        K.QUESTIONNAIRE,
        Channel.SMS,
        "",
        "{{ practice_name }}: a questionnaire is waiting for you: {{ link }}",
    ),
    (
        K.QUESTIONNAIRE,
        Channel.EMAIL,
        "A questionnaire from {{ practice_name }}",
        "Hello {{ patient_first_name }},\n\nA questionnaire is waiting for you:\n{{ link }}\n",
    ),
    # Statements and portal messages: the text says only that something is waiting (no amounts,
    # no message content); the patient reads it after signing in.
    (
        K.STATEMENT,
        Channel.EMAIL,
        "Your statement from {{ practice_name }} is ready",
        "Hello {{ patient_first_name }},\n\nYour statement from {{ practice_name }} is ready. Sign in to your "
        "patient portal to view it:\n{{ link }}\n\nQuestions? Call us at {{ practice_phone }}.\n",
    ),
    (
        K.PORTAL_INVITATION,
        Channel.SMS,
        "",
        "{{ practice_name }} invited you to its patient portal. Set up your account: {{ link }}",
    ),
    (
        K.PORTAL_INVITATION,
        Channel.EMAIL,
        "Your invitation to the {{ practice_name }} patient portal",
        "Hello {{ patient_first_name }},\n\n{{ practice_name }} invited you to its patient portal, where you can "
        "book appointments, complete forms and message your care team. Set up your account here (the link "
        "works once and expires):\n{{ link }}\n",
    ),
    (
        K.PORTAL_MESSAGE,
        Channel.SMS,
        "",
        "{{ practice_name }}: you have a new message in your patient portal: {{ link }}",
    ),
    (
        K.PORTAL_MESSAGE,
        Channel.EMAIL,
        "You have a new message from {{ practice_name }}",
        "Hello {{ patient_first_name }},\n\nYou have a new secure message in your patient portal. Sign in to "
        "read it:\n{{ link }}\n",
    ),
    (K.GENERIC, Channel.SMS, "", "{{ practice_name }}: please call us at {{ practice_phone }}."),
    (
        K.GENERIC,
        Channel.EMAIL,
        "A message from {{ practice_name }}",
        "Hello {{ patient_first_name }},\n\nPlease call us at {{ practice_phone }}.\n",
    ),
]

# (channel, minutes before the appointment)
DEFAULT_REMINDER_RULES: list[tuple[str, int]] = [(Channel.EMAIL, 48 * 60), (Channel.SMS, 24 * 60)]
