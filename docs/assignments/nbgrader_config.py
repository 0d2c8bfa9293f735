"""nbgrader's course layout for the assignments: `source/<assignment>/<assignment>.ipynb`.

Copy this folder to the course's directory and run nbgrader there: `nbgrader generate_assignment
derivatives` writes the student version to release/, `nbgrader autograde derivatives` grades what
is in submitted/<student>/derivatives/, `nbgrader generate_feedback derivatives` writes feedback/.
"""

c = get_config()  # noqa: F821 (nbgrader defines get_config when it reads this file)

c.CourseDirectory.course_id = "tinygrad-act"
c.CourseDirectory.db_assignments = [{"name": "derivatives"}, {"name": "one-hidden-layer"}]
