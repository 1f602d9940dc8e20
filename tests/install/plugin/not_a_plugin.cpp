// A shared library without module classes: `vstream --plugin` refuses it with an explanation.
extern "C" int not_a_plugin_answer() { return 42; }
