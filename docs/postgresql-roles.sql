-- The role ritplan's workstations connect as: it may read, add entries and update what changes
-- in place (accounts, sessions, settings, derived state, heads), never change or delete an
-- entry, a course, a patient or a vial code, and never drop or disable the triggers (it does
-- not own the tables). Run as the tables' owner (the role that ran `ritplan init`), after `ritplan init`:
--
--   psql -d ritplan -v role=ritplan_ward -f docs/postgresql-roles.sql
--
-- Create the login role first (CREATE ROLE ritplan_ward LOGIN PASSWORD '…'). A new schema
-- version may add tables: run this again after an upgrade.
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT ON meta TO :"role";
GRANT SELECT, INSERT ON patients, courses, events, vials, frozen TO :"role";
GRANT SELECT, INSERT, UPDATE ON staff, sessions, settings, course_state, heads TO :"role";
