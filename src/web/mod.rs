//! `cake-recon serve`: the screen for the finance team. A local web app in the same binary —
//! server-rendered HTML, one small script of our own, no framework — that uploads a sheet, shows
//! how it is read and what it would do (and how it stands against CAKE), applies it with the
//! command line's own `run`, and keeps the history of the folder it serves.
//!
//! Every run and every check is the command line itself, started as a child process with the
//! arguments the page chose (a typed [`job_spec::JobSpec`], started by [`jobs`]; every preview
//! too, under memory and time limits: [`preview`]): the same engine, rate limit, checkpoint, lock and
//! resume, and a stop button that is literally SIGTERM. The page reads progress from the
//! checkpoint, so a reload or a server restart finds the run where it is.

mod approval;
mod audit_log;
mod audit_page;
mod chart;
mod close;
mod guard;
mod home;
mod html;
mod jail;
mod job_page;
mod job_spec;
mod jobs;
mod pages;
mod people;
mod preview;
mod process;
mod remember;
mod results;
mod rows;
mod rows_page;
mod server;
mod sheet_apply;
mod sheet_check;
mod sheet_form;
mod sheet_page;
mod signin;
mod staged;
mod state;
mod words;

pub(crate) use server::serve;
