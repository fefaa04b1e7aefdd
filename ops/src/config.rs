//! `config check`: the findings of `lms_ghl::app::check_config`, as an operator reads them.

use lms_ghl::app::Finding;

pub fn describe(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| match f {
            Finding::Ok(text) => format!("ok         {text}\n"),
            Finding::Problem(text) => format!("PROBLEM    {text}\n"),
            Finding::Unchecked(text) => format!("unchecked  {text}\n"),
        })
        .collect()
}

pub fn problems(findings: &[Finding]) -> usize {
    findings
        .iter()
        .filter(|f| matches!(f, Finding::Problem(_)))
        .count()
}
