from enum import StrEnum


class Purpose(StrEnum):
    """Why an institution queries a report (PBOC practice)."""

    LOAN_APPROVAL = "loan_approval"
    CREDIT_CARD_APPROVAL = "credit_card_approval"
    GUARANTEE_REVIEW = "guarantee_review"
    POST_LOAN_MANAGEMENT = "post_loan_management"
    EMPLOYMENT_SCREENING = "employment_screening"
    COURT_ENFORCEMENT = "court_enforcement"
    SELF_QUERY = "self_query"
